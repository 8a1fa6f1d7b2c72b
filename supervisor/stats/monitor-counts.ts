/**
 * The stream monitor's counts of a rule (MonitorStats, native/core/
 * stream_monitor.h): which of its fields are counters, summed over workers
 * and kept by mcrd for the life of the rule (counter-ledger.ts), and which
 * is a gauge (the jitter, the largest of the workers' now).
 */
import type { MonitorStats } from '../../proto/index.js';

/** The counters of MonitorStats; rtpJitterUs is the one gauge. */
export const MONITOR_COUNTERS = ['rtpLost', 'rtpDuplicates', 'rtpReordered', 'rtpSsrcChanges', 'rtpInvalid', 'tsSyncByteErrors',
  'tsSyncLosses', 'tsCcErrors', 'tsPidOverflow'] as const;

export function emptyMonitor(): MonitorStats {
  return { rtpLost: 0, rtpDuplicates: 0, rtpReordered: 0, rtpSsrcChanges: 0, rtpInvalid: 0, rtpJitterUs: 0,
    tsSyncByteErrors: 0, tsSyncLosses: 0, tsCcErrors: 0, tsPidOverflow: 0 };
}
