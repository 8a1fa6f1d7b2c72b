/**
 * One scrape: take a snapshot of mcrd (the source), let every metric group
 * set its series from it, and write the registry in the Prometheus text
 * format. Collection happens only here, once per scrape.
 *
 * One scrape at a time: a request that arrives while one is in flight gets
 * that scrape's text. Groups reset and refill shared metric objects, so two
 * interleaved scrapes would mix their series; and a scraper retrying or
 * several Prometheus servers polling at once cost one stats round-trip to
 * the workers, not one each.
 */
import { Registry } from 'prom-client';
import { METRIC_GROUPS } from './groups.js';
import type { MetricGroup, MetricGroupFactory } from './metric-group.js';
import type { CounterNames, MetricsSource } from './snapshot.js';

export interface CollectorOptions {
  source: MetricsSource;
  names: CounterNames;
  version: string;
  /** Default: METRIC_GROUPS. */
  groups?: readonly MetricGroupFactory[];
}

export class MetricsCollector {
  readonly #registry = new Registry();
  readonly #groups: MetricGroup[];
  readonly #source: MetricsSource;
  #inFlight: Promise<string> | undefined;

  constructor(o: CollectorOptions) {
    this.#source = o.source;
    const context = { registry: this.#registry, names: o.names, version: o.version };
    this.#groups = (o.groups ?? METRIC_GROUPS).map((make) => make(context));
  }

  /** The Content-Type of scrape()'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The metrics text now; shares the scrape in flight if there is one. */
  scrape(): Promise<string> {
    this.#inFlight ??= this.#collect().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #collect(): Promise<string> {
    const snapshot = await this.#source();
    // Building the stats answer and writing the text are each some tens of
    // milliseconds of CPU at 1000 rules × 4 outputs: let control requests
    // that arrived meanwhile run between the two rather than after both.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const g of this.#groups) g.update(snapshot);
    return this.#registry.metrics();
  }
}
