/**
 * Per-input-interface series, summed over the interface's workers: frames
 * received from the AF_PACKET sockets, frames the kernel dropped before a
 * worker read them (PACKET_STATISTICS), malformed frames by reason (the
 * loop's drop_* counters: docs/relay.md lists them) and well-formed
 * datagrams no rule matched. Every input interface of a rule or of a worker
 * slot has its series, every reason included, at 0 until a worker counts
 * something. The numbers are the stats answer's `inputs` (mcrd's own
 * counters, supervisor/stats/counter-ledger.ts): they go on across worker
 * restarts, and only `mcrctl clear` (of everything) or an mcrd restart sets
 * them back to 0, which Prometheus' rate() reads as a counter reset.
 */
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import { NO_LABELS, SeriesCounter, type LabelSet, type Series } from './series-metric.js';
import type { MetricsSnapshot } from './snapshot.js';

interface InputTotals {
  frames: number;
  kernelDrops: number;
  unmatched: number;
  malformed: Map<string, number>;
}

export class InputMetrics implements MetricGroup {
  readonly #reasons: readonly string[];
  readonly #frames: SeriesCounter<string>;
  readonly #kernelDrops: SeriesCounter<string>;
  readonly #malformed: SeriesCounter<string>;
  readonly #unmatched: SeriesCounter<string>;
  /** Reused label objects (series-metric.ts): an input's, a reason's. */
  readonly #labels = new Map<string, LabelSet>();

  constructor({ registry, names }: GroupContext) {
    this.#reasons = names.malformedReasons;
    const registers = [registry];
    this.#frames = new SeriesCounter({ name: `${PREFIX}input_frames_total`, help: "Frames the input interface's workers received from their packet sockets.",
      labelNames: ['input'], registers });
    this.#kernelDrops = new SeriesCounter({ name: `${PREFIX}input_kernel_drops_total`,
      help: 'Frames the kernel dropped on the input before a worker read them (PACKET_STATISTICS: the workers were too slow).', labelNames: ['input'], registers });
    this.#malformed = new SeriesCounter({ name: `${PREFIX}input_malformed_total`, help: 'Frames dropped as malformed or not relayable, by reason (docs/relay.md).',
      labelNames: ['input', 'reason'], registers });
    this.#unmatched = new SeriesCounter({ name: `${PREFIX}input_unmatched_total`, help: 'Well-formed UDP datagrams that matched no rule.',
      labelNames: ['input'], registers });
  }

  update(s: MetricsSnapshot): void {
    const inputs = new Map<string, InputTotals>();
    const totals = (input: string): InputTotals => {
      let t = inputs.get(input);
      if (t === undefined) {
        inputs.set(input, (t = { frames: 0, kernelDrops: 0, unmatched: 0, malformed: new Map(this.#reasons.map((r) => [r, 0])) }));
      }
      return t;
    };
    for (const r of s.rules) totals(r.inputInterface);
    for (const w of s.workers) totals(w.interface);
    for (const i of s.stats.inputs) {
      const t = totals(i.interface);
      t.frames += i.frames;
      t.kernelDrops += i.kernelDrops;
      t.unmatched += i.unmatched;
      for (const reason in i.malformed) t.malformed.set(reason, (t.malformed.get(reason) ?? 0) + (i.malformed[reason] ?? 0));
    }
    const frames: Series[] = [];
    const kernelDrops: Series[] = [];
    const unmatched: Series[] = [];
    const malformed: Series[] = [];
    for (const [input, t] of inputs) {
      const labels = this.#label('input', input);
      frames.push({ value: t.frames, sharedLabels: labels, labels: NO_LABELS });
      kernelDrops.push({ value: t.kernelDrops, sharedLabels: labels, labels: NO_LABELS });
      unmatched.push({ value: t.unmatched, sharedLabels: labels, labels: NO_LABELS });
      for (const [reason, n] of t.malformed) malformed.push({ value: n, sharedLabels: labels, labels: this.#label('reason', reason) });
    }
    this.#frames.replace(frames);
    this.#kernelDrops.replace(kernelDrops);
    this.#unmatched.replace(unmatched);
    this.#malformed.replace(malformed);
  }

  #label(name: 'input' | 'reason', value: string): LabelSet {
    const key = `${name}=${value}`;
    let l = this.#labels.get(key);
    // Interface names come and go with the rules; a few dozen bytes each, bounded by the names ever used.
    if (l === undefined) this.#labels.set(key, (l = Object.freeze({ [name]: value })));
    return l;
  }
}
