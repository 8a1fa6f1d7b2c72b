/**
 * The extension point of the metrics endpoint: a metric group registers its
 * metrics on the scrape's registry once, and sets all their series from each
 * scrape's snapshot (update), so nothing runs between scrapes: no timer, no
 * callback per series. METRIC_GROUPS (groups.ts) lists the groups a scrape
 * writes; a new kind of series (stream health, say) is a new group there,
 * reading what it needs from a new field of MetricsSnapshot.
 *
 * Every series is set again on every scrape: its value is whatever the
 * snapshot says, and a series whose rule, output, input or worker is gone
 * stops being exported.
 */
import type { Registry } from 'prom-client';
import type { CounterNames, MetricsSnapshot } from './snapshot.js';

export interface MetricGroup {
  /** Sets every series of the group's metrics from one scrape's snapshot. */
  update(snapshot: MetricsSnapshot): void;
}

/** What a group gets when the endpoint starts. */
export interface GroupContext {
  registry: Registry;
  names: CounterNames;
  /** mcrd's version (package.json). */
  version: string;
}

export type MetricGroupFactory = (context: GroupContext) => MetricGroup;

/** Every metric is called mcr_<name>: one prefix, as Prometheus' naming rules ask. */
export const PREFIX = 'mcr_';
