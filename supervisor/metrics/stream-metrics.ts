/**
 * Stream health series per rule, from the stats answer's stream fields
 * (supervisor/health/): whether the stream is up (1) or down (0) and when
 * that last changed, for every rule with a signal timeout (a rule with
 * signalTimeoutMs 0 is not watched and has neither series); and for rules
 * with `monitor` set, the stream monitor's counts and the RTP jitter, at 0
 * from the moment the rule exists.
 *
 * Labels: rule, name ("" when none), input, as rule-metrics.ts.
 */
import type { MonitorStats, Rule, RuleStats } from '../../proto/index.js';
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import { NO_LABELS, SeriesCounter, SeriesGauge, type LabelSet, type Series } from './series-metric.js';
import type { MetricsSnapshot } from './snapshot.js';

/** The monitor's counters: metric name (after mcr_rule_), help, MonitorStats field. */
const MONITOR_COUNTERS: ReadonlyArray<readonly [string, string, keyof MonitorStats]> = [
  ['rtp_lost_packets_total', 'RTP sequence numbers that never arrived (counted once 64 later numbers did).', 'rtpLost'],
  ['rtp_duplicate_packets_total', 'RTP datagrams whose sequence number had arrived already.', 'rtpDuplicates'],
  ['rtp_reordered_packets_total', 'RTP datagrams that arrived after a higher sequence number.', 'rtpReordered'],
  ['rtp_ssrc_changes_total', 'Changes of the RTP synchronisation source (SSRC).', 'rtpSsrcChanges'],
  ['rtp_invalid_packets_total', 'Datagrams of an RTP-monitored rule without a valid RTP version 2 header.', 'rtpInvalid'],
  ['ts_sync_byte_errors_total', 'MPEG-TS packets whose sync byte is not 0x47 (TR 101 290 1.2).', 'tsSyncByteErrors'],
  ['ts_sync_losses_total', 'MPEG-TS sync losses: two or more bad sync bytes in a row after sync (TR 101 290 1.1).', 'tsSyncLosses'],
  ['ts_cc_errors_total', 'MPEG-TS continuity counter errors over all PIDs (TR 101 290 1.4).', 'tsCcErrors'],
  ['ts_pid_overflow_packets_total', 'MPEG-TS packets of PIDs beyond the 64 tracked per rule (not checked).', 'tsPidOverflow'],
];

interface StreamSeries {
  up: Series;
  changed: Series;
  jitter: Series;
  counters: Series[];
}

export class StreamMetrics implements MetricGroup {
  readonly #series = new WeakMap<Rule, StreamSeries>();
  readonly #up: SeriesGauge<string>;
  readonly #changed: SeriesGauge<string>;
  readonly #jitter: SeriesGauge<string>;
  readonly #counters: Array<SeriesCounter<string>>;

  constructor({ registry }: GroupContext) {
    const registers = [registry];
    const labelNames = ['rule', 'name', 'input'];
    this.#up = new SeriesGauge({ name: `${PREFIX}rule_stream_up`, labelNames, registers,
      help: '1 while a datagram matched the rule within its signal timeout, else 0 (also before the first one).' });
    this.#changed = new SeriesGauge({ name: `${PREFIX}rule_stream_last_change_seconds`, labelNames, registers,
      help: 'When mcr_rule_stream_up last changed (Unix time), or when mcrd took the rule on.' });
    this.#jitter = new SeriesGauge({ name: `${PREFIX}rule_rtp_jitter_seconds`, labelNames, registers,
      help: 'RFC 3550 interarrival jitter of the RTP stream (90 kHz clock; the largest over the workers).' });
    this.#counters = MONITOR_COUNTERS.map(([name, help]) => new SeriesCounter({ name: `${PREFIX}rule_${name}`, help, labelNames, registers }));
  }

  update(s: MetricsSnapshot): void {
    const stats = new Map<number, RuleStats>();
    for (const r of s.stats.rules) stats.set(r.ruleId, r);
    const up: Series[] = [];
    const changed: Series[] = [];
    const jitter: Series[] = [];
    const counters: Series[][] = MONITOR_COUNTERS.map(() => []);
    for (const rule of s.rules) {
      let rs = this.#series.get(rule);
      if (rs === undefined) this.#series.set(rule, (rs = seriesOf(rule)));
      const st = stats.get(rule.id);
      // A rule added after the stats were taken has no state yet: down since now.
      const state = st?.streamState ?? 'down';
      if (state !== 'off') {
        rs.up.value = state === 'up' ? 1 : 0;
        rs.changed.value = (st?.streamChangedAtMs ?? Date.now()) / 1000;
        up.push(rs.up);
        changed.push(rs.changed);
      }
      if (rule.monitor === undefined) continue;
      const m = st?.monitor;
      rs.jitter.value = (m?.rtpJitterUs ?? 0) / 1e6;
      jitter.push(rs.jitter);
      MONITOR_COUNTERS.forEach(([, , field], i) => {
        const series = rs.counters[i] as Series;
        series.value = m?.[field] ?? 0;
        counters[i]?.push(series);
      });
    }
    this.#up.replace(up);
    this.#changed.replace(changed);
    this.#jitter.replace(jitter);
    this.#counters.forEach((c, i) => c.replace(counters[i] ?? []));
  }
}

function seriesOf(rule: Rule): StreamSeries {
  const labels: LabelSet = Object.freeze({ rule: String(rule.id), name: rule.name ?? '', input: rule.inputInterface });
  const series = (): Series => ({ value: 0, sharedLabels: labels, labels: NO_LABELS });
  return { up: series(), changed: series(), jitter: series(), counters: MONITOR_COUNTERS.map(series) };
}
