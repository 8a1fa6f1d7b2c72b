/**
 * The metric groups a scrape writes, in the order they appear in the text.
 */
import { DaemonMetrics } from './daemon-metrics.js';
import { InputMetrics } from './input-metrics.js';
import type { MetricGroupFactory } from './metric-group.js';
import { OutputInterfaceMetrics } from './output-interface-metrics.js';
import { RuleMetrics } from './rule-metrics.js';
import { StreamMetrics } from './stream-metrics.js';
import { WorkerMetrics } from './worker-metrics.js';

export const METRIC_GROUPS: readonly MetricGroupFactory[] = [
  (c) => new DaemonMetrics(c),
  (c) => new RuleMetrics(c),
  (c) => new StreamMetrics(c),
  (c) => new InputMetrics(c),
  (c) => new OutputInterfaceMetrics(c),
  (c) => new WorkerMetrics(c),
];
