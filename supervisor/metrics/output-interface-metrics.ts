/**
 * Per-output-interface series: what the kernel dropped after MCR's sends,
 * which the outputs' packet counters count as sent (supervisor/net/
 * output-drops.ts says why a sender is not told): the root qdisc's drops
 * and the device's transmit drops. They are the kernel's totals for the
 * interface, of every sender on the host, since the qdisc or the interface
 * was made, so a qdisc replaced or an interface re-created starts again
 * from 0, which Prometheus' rate() reads as a counter reset. A count mcrd
 * could not read (a qdisc that keeps none, an interface gone) has no
 * series until it can be read again. The devices an output transmits
 * through (a VLAN's parent, a bond's or bridge's ports), listed in the
 * stats after it, have series of their own: their queues drop its
 * packets too.
 */
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import { NO_LABELS, SeriesCounter, type LabelSet, type Series } from './series-metric.js';
import type { MetricsSnapshot } from './snapshot.js';

export class OutputInterfaceMetrics implements MetricGroup {
  readonly #qdiscDrops: SeriesCounter<string>;
  readonly #deviceDrops: SeriesCounter<string>;
  /** Reused label objects (series-metric.ts), one per interface name. */
  readonly #labels = new Map<string, LabelSet>();

  constructor({ registry }: GroupContext) {
    const registers = [registry];
    this.#qdiscDrops = new SeriesCounter({ name: `${PREFIX}output_interface_qdisc_drops_total`,
      help: "Packets the root qdisc of an output interface, or of a device one sends through, dropped (tc -s qdisc: dropped), of every sender on the host; a sender is mostly not told.",
      labelNames: ['interface'], registers });
    this.#deviceDrops = new SeriesCounter({ name: `${PREFIX}output_interface_device_drops_total`,
      help: 'Packets an output interface, or a device one sends through, dropped on transmit (ip -s link: TX dropped; a link without carrier drops all), of every sender on the host.',
      labelNames: ['interface'], registers });
  }

  update(s: MetricsSnapshot): void {
    const qdisc: Series[] = [];
    const device: Series[] = [];
    for (const o of s.stats.outputInterfaces) {
      const labels = this.#label(o.interface);
      if (o.qdiscDrops !== undefined) qdisc.push({ value: o.qdiscDrops, sharedLabels: labels, labels: NO_LABELS });
      if (o.deviceDrops !== undefined) device.push({ value: o.deviceDrops, sharedLabels: labels, labels: NO_LABELS });
    }
    this.#qdiscDrops.replace(qdisc);
    this.#deviceDrops.replace(device);
  }

  #label(name: string): LabelSet {
    let l = this.#labels.get(name);
    // Interface names come and go with the rules; a few dozen bytes each, bounded by the names ever used.
    if (l === undefined) this.#labels.set(name, (l = Object.freeze({ interface: name })));
    return l;
  }
}
