/**
 * Per-rule and per-output series: datagrams and UDP payload bytes a rule
 * received, datagrams and bytes each output sent, each output's failed
 * sends, and those failures by errno. Every rule of the table has its
 * series (at 0 until its workers count something), and so has every
 * output's error total; an output's series for one errno appears once that
 * errno has occurred on it, and stays, at whatever value, while the rule
 * exists. (Every errno at 0 on every output would be 11 series per output:
 * 44 000 mostly idle series at 1000 rules × 4 outputs, for Prometheus to
 * store and for a scrape to write. Alert on the total; the errno says why.)
 *
 * Labels: rule (the id mcrd gave it), name ("" when it has none), input
 * (the input interface) on rule series; output as group:port:interface on
 * output series (common/output-match.ts's outputKey: the output as the
 * tables print it, an IPv6 group in brackets, "=" for a kept group or port). Outputs of one rule with the same group, port and
 * interface (they may differ in TTL or source) share their series: their
 * counts are added (two series with the same labels would make Prometheus
 * refuse the whole scrape).
 */
import { outputKey } from '../../common/output-match.js';
import type { OutputStats, Rule, RuleStats } from '../../proto/index.js';
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import { NO_LABELS, SeriesCounter, SeriesGauge, type LabelSet, type Series } from './series-metric.js';
import type { MetricsSnapshot } from './snapshot.js';

/**
 * A rule's label objects and series, made once per rule and reused on every
 * scrape, which only sets their values (series-metric.ts says why the label
 * objects; reusing the series spares the allocation of 15 000 objects per
 * scrape at 1000 rules × 4 outputs).
 */
interface RuleLabels {
  rule: LabelSet;
  info: LabelSet;
  /** One per distinct group:port:interface. */
  outputs: LabelSet[];
  /** For each of the rule's outputs, the index of its labels in `outputs`. */
  seriesOf: number[];
  /** Per entry of `outputs`, the errnos seen on it since the rule was added, and their series. */
  errnos: Array<Map<string, Series>>;
  series: { info: Series; packets: Series; bytes: Series; sentPackets: Series[]; sentBytes: Series[]; errors: Series[] };
}

interface OutputTotals {
  packets: number;
  bytes: number;
  errors: number;
  byErrno: Record<string, number>;
}

const errnoLabels = new Map<string, LabelSet>();
function errnoLabel(errno: string): LabelSet {
  let l = errnoLabels.get(errno);
  if (l === undefined) errnoLabels.set(errno, (l = Object.freeze({ errno })));
  return l;
}

function labelsOf(rule: Rule): RuleLabels {
  const base = { rule: String(rule.id), name: rule.name ?? '' };
  const index = new Map<string, number>();
  const outputs: LabelSet[] = [];
  const seriesOf = rule.outputs.map((o) => {
    const key = outputKey(o);
    let i = index.get(key);
    if (i === undefined) {
      index.set(key, (i = outputs.length));
      outputs.push(Object.freeze({ ...base, output: key }));
    }
    return i;
  });
  const labels = Object.freeze({ ...base, input: rule.inputInterface });
  const info = Object.freeze({ ...base, input: rule.inputInterface, group: rule.inputGroup, port: String(rule.inputPort), source: rule.source ?? '' });
  const series = (sharedLabels: LabelSet): Series => ({ value: 0, sharedLabels, labels: NO_LABELS });
  return {
    rule: labels,
    info,
    outputs,
    seriesOf,
    errnos: outputs.map(() => new Map<string, Series>()),
    series: { info: { value: 1, sharedLabels: info, labels: NO_LABELS }, packets: series(labels), bytes: series(labels),
      sentPackets: outputs.map(series), sentBytes: outputs.map(series), errors: outputs.map(series) },
  };
}

/** Sets a reused series' value for this scrape and lists it. */
function set(s: Series | undefined, value: number, into: Series[]): void {
  if (s === undefined) return;
  s.value = value;
  into.push(s);
}

const NO_ERRORS: Record<string, number> = Object.freeze({});

/** An output's counters, or those of the rule's outputs sharing its labels added up. */
function outputTotals(l: RuleLabels, st: RuleStats | undefined): OutputTotals[] {
  const plain = (o: OutputStats | undefined): OutputTotals =>
    ({ packets: o?.packets ?? 0, bytes: o?.bytes ?? 0, errors: o?.errors ?? 0, byErrno: o?.errorsByErrno ?? NO_ERRORS });
  if (l.outputs.length === l.seriesOf.length) return l.seriesOf.map((_, i) => plain(st?.outputs[i]));
  const totals = l.outputs.map(() => ({ packets: 0, bytes: 0, errors: 0, byErrno: {} as Record<string, number> }));
  l.seriesOf.forEach((j, i) => {
    const t = totals[j] as OutputTotals;
    const o = plain(st?.outputs[i]);
    t.packets += o.packets;
    t.bytes += o.bytes;
    t.errors += o.errors;
    for (const errno in o.byErrno) t.byErrno[errno] = (t.byErrno[errno] ?? 0) + (o.byErrno[errno] ?? 0);
  });
  return totals;
}

export class RuleMetrics implements MetricGroup {
  readonly #labels = new WeakMap<Rule, RuleLabels>();
  readonly #info: SeriesGauge<string>;
  readonly #packets: SeriesCounter<string>;
  readonly #bytes: SeriesCounter<string>;
  readonly #sentPackets: SeriesCounter<string>;
  readonly #sentBytes: SeriesCounter<string>;
  readonly #errors: SeriesCounter<string>;
  readonly #errorsByErrno: SeriesCounter<string>;

  constructor({ registry }: GroupContext) {
    const registers = [registry];
    const rule = ['rule', 'name', 'input'];
    const output = ['rule', 'name', 'output'];
    this.#info = new SeriesGauge({ name: `${PREFIX}rule_info`, help: 'Always 1 for each rule: what it matches (group, port, source; source "" for any).',
      labelNames: [...rule, 'group', 'port', 'source'], registers });
    this.#packets = new SeriesCounter({ name: `${PREFIX}rule_received_packets_total`, help: 'Datagrams the rule matched on its input interface.',
      labelNames: rule, registers });
    this.#bytes = new SeriesCounter({ name: `${PREFIX}rule_received_bytes_total`, help: 'UDP payload bytes of the datagrams the rule matched.',
      labelNames: rule, registers });
    this.#sentPackets = new SeriesCounter({ name: `${PREFIX}output_sent_packets_total`, help: 'Datagrams the kernel accepted for sending to this output.',
      labelNames: output, registers });
    this.#sentBytes = new SeriesCounter({ name: `${PREFIX}output_sent_bytes_total`, help: 'UDP payload bytes sent to this output.',
      labelNames: output, registers });
    this.#errors = new SeriesCounter({ name: `${PREFIX}output_send_errors_total`, help: 'Sends to this output that failed (any errno).',
      labelNames: output, registers });
    this.#errorsByErrno = new SeriesCounter({ name: `${PREFIX}output_send_errors_by_errno_total`,
      help: 'Sends to this output that failed, by errno name ("other": an errno without a counter of its own; the worker log names it). ' +
        'A series appears once its errno has occurred.', labelNames: [...output, 'errno'], registers });
  }

  update(s: MetricsSnapshot): void {
    const stats = new Map<number, RuleStats>();
    for (const r of s.stats.rules) stats.set(r.ruleId, r);
    const info: Series[] = [];
    const packets: Series[] = [];
    const bytes: Series[] = [];
    const sentPackets: Series[] = [];
    const sentBytes: Series[] = [];
    const errors: Series[] = [];
    const byErrno: Series[] = [];
    for (const rule of s.rules) {
      let l = this.#labels.get(rule);
      if (l === undefined) this.#labels.set(rule, (l = labelsOf(rule)));
      const st = stats.get(rule.id);
      const rs = l.series;
      rs.packets.value = st?.packets ?? 0;
      rs.bytes.value = st?.bytes ?? 0;
      info.push(rs.info);
      packets.push(rs.packets);
      bytes.push(rs.bytes);
      outputTotals(l, st).forEach((o, i) => {
        set(rs.sentPackets[i], o.packets, sentPackets);
        set(rs.sentBytes[i], o.bytes, sentBytes);
        set(rs.errors[i], o.errors, errors);
        const seen = l.errnos[i] as Map<string, Series>;
        for (const errno in o.byErrno) {
          if (!seen.has(errno)) seen.set(errno, { value: 0, sharedLabels: l.outputs[i] as LabelSet, labels: errnoLabel(errno) });
        }
        for (const [errno, s] of seen) set(s, o.byErrno[errno] ?? 0, byErrno);
      });
    }
    this.#info.replace(info);
    this.#packets.replace(packets);
    this.#bytes.replace(bytes);
    this.#sentPackets.replace(sentPackets);
    this.#sentBytes.replace(sentBytes);
    this.#errors.replace(errors);
    this.#errorsByErrno.replace(byErrno);
  }
}
