/**
 * Counters and gauges whose series a metric group replaces all at once on
 * each scrape. They are prom-client's Counter and Gauge (the registry
 * writes them: names, HELP, TYPE, escaping), but their series come from
 * replace() instead of inc()/set(): those hash and validate the labels of
 * every series on every scrape, which for 1000 rules × 4 outputs cost more
 * than the whole 50 ms a scrape may take on this project's 2-core machine.
 *
 * Each series carries its labels as `sharedLabels`, the field prom-client's
 * registry formats once per label object and caches (a WeakMap keyed by the
 * object; the Histogram uses it for its buckets): a group that hands the
 * same frozen label object scrape after scrape (rule-metrics.ts caches
 * them per rule) pays for formatting a rule's labels once. `labels` holds
 * what differs per series under the same shared labels (an errno, a state).
 */
import { Counter, Gauge } from 'prom-client';

export type LabelSet = Readonly<Record<string, string>>;

export interface Series {
  value: number;
  /** Formatted once per object by the registry: reuse the object across scrapes. */
  sharedLabels: LabelSet;
  /** Labels of this series only; NO_LABELS when there are none. */
  labels: LabelSet;
}

export const NO_LABELS: LabelSet = Object.freeze({});

type Values<M extends { get(): Promise<{ values: unknown }> }> = Awaited<ReturnType<M['get']>>['values'];

export class SeriesCounter<L extends string> extends Counter<L> {
  #series: readonly Series[] = [];

  /** The counter's series from now until the next replace(). */
  replace(series: readonly Series[]): void {
    this.#series = series;
  }

  override async get(): ReturnType<Counter<L>['get']> {
    // super.get() gives name, help, type and aggregator as prom-client has them (no series: inc() is never called).
    return { ...(await super.get()), values: this.#series as unknown as Values<Counter<L>> };
  }
}

export class SeriesGauge<L extends string> extends Gauge<L> {
  #series: readonly Series[] = [];

  replace(series: readonly Series[]): void {
    this.#series = series;
  }

  override async get(): ReturnType<Gauge<L>['get']> {
    return { ...(await super.get()), values: this.#series as unknown as Values<Gauge<L>> };
  }
}
