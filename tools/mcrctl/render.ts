/**
 * The human-readable form of each mcrctl answer, as lines of text. --json
 * bypasses all of this and prints mcrd's result as it came; these layouts
 * are for people, so they favour alignment and the same G:P:IF[:TTL]
 * notation the user typed into `mcrctl add`.
 */
import type {
  CheckResult, ListRulesResult, LogLevelGetResult, LogLevelSetResult, LogLine, LoopState, MonitorStats, PingResult, ReloadResult,
  RemoveRuleResult, Rule, RuleApplication, SaveResult, StatsResult, VersionResult, WorkersResult,
} from '../../proto/index.js';
import { MIN_RATE_INTERVAL_MS } from '../../common/defaults.js';
import { formatDuration, formatInput, formatOutput, formatRate, oneLine, orDash, present, table, type Column } from './format.js';

export function renderRemoved(result: RemoveRuleResult): string[] {
  const r = result.rule;
  const name = present(r.name) ? ` "${r.name}"` : '';
  return [`removed rule ${r.id}${name} (${formatInput(r)})`];
}

/** One row per output; the rule's own cells only on its first row. */
export function renderRules(result: ListRulesResult, nowMs: number): string[] {
  if (result.rules.length === 0) return ['no rules: add one with `mcrctl add`'];
  // The STREAM column when mcrd tracks stream health (it always does; an older one did not).
  const withStream = result.streams !== undefined;
  // The CONSUMED column when mcrd says what it consumes (an older one did not).
  const withConsume = result.consumes !== undefined;
  const columns: Column[] = [
    { header: 'ID', align: 'right' }, { header: 'NAME' }, { header: 'INTERFACE' }, { header: 'GROUP' },
    { header: 'PORT', align: 'right' }, { header: 'SOURCE' }, { header: 'OUTPUTS' }, { header: 'STATUS' },
    ...(withStream ? [{ header: 'STREAM' }] : []), ...(withConsume ? [{ header: 'CONSUMED' }] : []),
  ];
  const consumes = new Map((result.consumes?.rules ?? []).map((c) => [c.ruleId, c]));
  const problems = new Map(result.problems.map((p) => [p.ruleId, p]));
  const streams = new Map((result.streams?.rules ?? []).map((s) => [s.ruleId, s]));
  const rows: string[][] = [];
  for (const r of result.rules) {
    const outputs = r.outputs.length > 0 ? r.outputs.map(formatOutput) : ['-'];
    const s = streams.get(r.id);
    outputs.forEach((out, i) => {
      rows.push(i === 0
        ? [String(r.id), orDash(r.name), r.inputInterface, r.inputGroup, r.inputPort === 0 ? 'any' : String(r.inputPort), formatSources(r), out, ruleStatus(problems.get(r.id)),
          ...(withStream ? [formatStream(s?.state, s?.changedAtMs, nowMs)] : []), ...(withConsume ? [formatConsumed(consumes.get(r.id))] : [])]
        : ['', '', '', '', '', '', out, '', ...(withStream ? [''] : []), ...(withConsume ? [''] : [])]);
    });
  }
  return table(columns, rows);
}

/** "yes: no local listener", "no: local listener pid 1234 (inode 5678) bound to 0.0.0.0:5000", or "-" when mcrd did not say. */
export function formatConsumed(c: { consumed: boolean; reason: string } | undefined): string {
  if (c === undefined) return '-';
  return `${c.consumed ? 'yes' : 'no'}${c.reason !== '' ? `: ${c.reason}` : ''}`;
}

/** "up 4m09s", "down 12s" (for how long), "off", or "-" when mcrd did not say. */
export function formatStream(state: string | undefined, changedAtMs: number | undefined, nowMs: number): string {
  if (!present(state)) return '-';
  if (state === 'off' || !present(changedAtMs)) return state;
  return `${state} ${formatDuration(Math.max(0, nowMs - changedAtMs))}`;
}

/** "ok", or which workers refused the rule (with the errno) or did not confirm it. */
export function ruleStatus(p: RuleApplication | undefined): string {
  if (p === undefined) return 'ok';
  const parts = [
    ...p.refused.map((r) => `refused by ${r.worker} (${r.error.code})`),
    ...(p.unconfirmed.length > 0 ? [`not confirmed by ${p.unconfirmed.join(', ')}`] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : 'ok';
}

/**
 * Per rule: an "in" row with what matched, then one "->" row per output with
 * what was sent. Rules are described from `rules` (a list taken alongside the
 * stats); a rule added or removed in between still shows, by id.
 */
export function renderStats(stats: StatsResult, rules: readonly Rule[], nowMs: number): string[] {
  const byId = new Map(rules.map((r) => [r.id, r]));
  // The ERRNO column only when some output has failed sends.
  const withErrno = stats.rules.some((s) => s.outputs.some((o) => Object.keys(o.errorsByErrno ?? {}).length > 0));
  // The STREAM column when mcrd reports stream states.
  const withStream = stats.rules.some((s) => s.streamState !== undefined);
  const ruleLines = stats.rules.length === 0
    ? ['no rules']
    : table(
      [
        { header: 'RULE', align: 'right' }, { header: 'NAME' }, { header: 'FLOW' }, { header: 'PACKETS', align: 'right' },
        { header: 'BYTES', align: 'right' }, { header: 'PPS', align: 'right' }, { header: 'ERRORS', align: 'right' },
        ...(withStream ? [{ header: 'STREAM' }] : []), ...(withErrno ? [{ header: 'ERRNO' }] : []),
      ],
      stats.rules.flatMap((s) => {
        const rule = byId.get(s.ruleId);
        const head = [String(s.ruleId), orDash(rule?.name), rule ? `in ${formatInput(rule)}` : 'in',
          String(s.packets), String(s.bytes), formatRate(s.pps), String(s.errors),
          ...(withStream ? [formatStream(s.streamState, s.streamChangedAtMs, nowMs)] : [])];
        const outs = s.outputs.map((o, i) => {
          const spec = rule?.outputs[i];
          // No carrier: its sends are dropped by the device and mostly counted as sent (docs/relay.md).
          return ['', '', `-> ${spec ? formatOutput(spec) : `output ${i + 1}`}${o.noCarrier === true ? ' (no carrier)' : ''}`,
            String(o.packets), String(o.bytes), formatRate(o.pps), String(o.errors), ...(withStream ? [''] : []), formatCounts(o.errorsByErrno ?? {})];
        });
        return [head, ...outs];
      }),
    );
  if (stats.rules.length > 0) ruleLines.push(rateNote(stats));
  const monitored = stats.rules.filter((s) => s.monitor !== undefined);
  const monitorLines = monitored.length === 0 ? [] : ['', ...table(
    [
      { header: 'RULE', align: 'right' }, { header: 'NAME' }, { header: 'MONITOR' }, { header: 'RTP-LOST', align: 'right' },
      { header: 'DUP', align: 'right' }, { header: 'REORDER', align: 'right' }, { header: 'SSRC', align: 'right' },
      { header: 'NOT-RTP', align: 'right' }, { header: 'JITTER-MS', align: 'right' }, { header: 'TS-CC', align: 'right' },
      { header: 'TS-SYNC-BYTE', align: 'right' }, { header: 'TS-SYNC-LOSS', align: 'right' }, { header: 'PID-OVERFLOW', align: 'right' },
    ],
    monitored.map((s) => {
      const m = s.monitor as MonitorStats;
      const rule = byId.get(s.ruleId);
      return [String(s.ruleId), orDash(rule?.name), orDash(rule?.monitor), String(m.rtpLost), String(m.rtpDuplicates), String(m.rtpReordered),
        String(m.rtpSsrcChanges), String(m.rtpInvalid), (m.rtpJitterUs / 1000).toFixed(2), String(m.tsCcErrors),
        String(m.tsSyncByteErrors), String(m.tsSyncLosses), String(m.tsPidOverflow)];
    }),
  )];
  // Per input interface over its life in mcrd (across worker restarts):
  // every frame a worker read, and where those that no rule relayed went.
  const inputs = stats.inputs ?? [];
  const withReasons = inputs.some((i) => Object.values(i.malformed ?? {}).some((n) => n > 0));
  const inputLines = inputs.length === 0 ? [] : ['', ...table(
    [
      { header: 'INPUT' }, { header: 'FRAMES', align: 'right' }, { header: 'UNMATCHED', align: 'right' },
      { header: 'NOT-RELAYABLE', align: 'right' }, { header: 'KERNEL-DROPS', align: 'right' }, ...(withReasons ? [{ header: 'WHY NOT RELAYABLE' }] : []),
    ],
    inputs.map((i) => {
      const malformed = i.malformed ?? {};
      return [i.interface, String(i.frames), String(i.unmatched), String(Object.values(malformed).reduce((a, n) => a + n, 0)),
        String(i.kernelDrops), ...(withReasons ? [formatCounts(malformed)] : [])];
    }),
  )];
  // Per output interface: what the kernel dropped after the sends, those a
  // send was not told of included, which the outputs' PACKETS count as sent
  // (docs/relay.md, "Drops after the send").
  const outIfaces = stats.outputInterfaces;
  const unread = outIfaces.some((o) => o.error !== undefined)
    ? ['OUTPUT errors: ENODEV: no such interface now (ip link); ETIMEDOUT, EAGAIN: the kernel was busy or the interfaces changing, run stats again']
    : [];
  const outputLines = outIfaces.length === 0 ? [] : ['', ...table(
    [{ header: 'OUTPUT' }, { header: 'QDISC' }, { header: 'QDISC-DROPS', align: 'right' }, { header: 'DEVICE-DROPS', align: 'right' }],
    // The devices an output transmits through follow it, named as such: their queues and devices drop its packets too.
    outIfaces.map((o) => [`${o.interface}${o.upper.length > 0 ? ` (lower of ${o.upper.join(', ')})` : ''}${o.error !== undefined ? ` (${o.error})` : ''}`,
      orDash(o.qdisc || undefined),
      o.qdiscDrops !== undefined ? String(o.qdiscDrops) : '-', o.deviceDrops !== undefined ? String(o.deviceDrops) : '-']),
  ), 'OUTPUT drops: kernel totals of every sender on the interface; see docs/relay.md, "Drops after the send"', ...unread];
  const workerLines = stats.workers.length === 0
    ? ['no workers']
    : table(
      [
        { header: 'WORKER' }, { header: 'INTERFACE' }, { header: 'RECEIVED', align: 'right' },
        { header: 'KERNEL-DROPS', align: 'right' }, { header: 'RESTARTS', align: 'right' },
      ],
      stats.workers.map((w) => [w.worker, w.interface, String(w.received), String(w.kernelDrops), String(w.restarts)]),
    );
  return [...ruleLines, ...monitorLines, ...inputLines, ...outputLines, '', ...workerLines];
}

/**
 * Non-zero counts by name, most frequent first: an output's failed sends by
 * errno ("ENODEV 1816, ENETUNREACH 210"), an input's malformed frames by reason.
 */
function formatCounts(byName: Record<string, number>): string {
  return Object.entries(byName).filter(([, n]) => n > 0).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`).join(', ');
}

/** What the PPS column is measured over, or why it shows '-'. */
function rateNote(stats: StatsResult): string {
  if (stats.rateIntervalMs === undefined) {
    return `PPS: - until mcrd has an earlier sample at least ${MIN_RATE_INTERVAL_MS / 1000} s old: run stats again`;
  }
  const over = `PPS over the last ${(stats.rateIntervalMs / 1000).toFixed(1)} s`;
  const missing = stats.rules.some((r) => r.pps === undefined || r.outputs.some((o) => o.pps === undefined));
  return missing ? `${over}; - for rules added since` : over;
}

/**
 * A worker's loop in a few words: how its thread is scheduled (the short
 * slice, the kernel's with why the short one was refused, or SCHED_FIFO,
 * with "stepped down" while its saturation guard has it under the normal
 * policy; first, when the default's SCHED_FIFO was refused, that and why),
 * then only what departs from a current kernel's (no DEFER_TASKRUN; sleeps
 * counted as iowait, before Linux 6.15). "-" until the worker is ready.
 */
export function formatLoop(loop: LoopState | undefined, steppedDown = false): string {
  if (loop === undefined) return '-';
  const sched = loop.rtPriority > 0 ? `FIFO ${loop.rtPriority}${steppedDown ? ' stepped down (saturated)' : ''}`
    : loop.sliceUs > 0 ? `slice ${loop.sliceUs}us`
      : `kernel slice${present(loop.sliceRefused) ? ` (${loop.sliceRefused})` : ''}`;
  return [...(present(loop.rtRefused) ? [`FIFO refused (${loop.rtRefused})`] : []), sched, ...(loop.deferTaskrun ? [] : ['no DEFER_TASKRUN']), ...(loop.noIowait ? [] : ['sleeps as iowait'])].join(', ');
}

export function renderWorkers(result: WorkersResult, nowMs: number): string[] {
  if (result.workers.length === 0) return ['no workers: mcrd starts them for the input interfaces its rules use'];
  // The REASON column only when a slot has one (waiting for its interface, rules refused).
  const withReason = result.workers.some((w) => present(w.reason));
  return table(
    [
      { header: 'WORKER' }, { header: 'INTERFACE' }, { header: 'CORE', align: 'right' }, { header: 'PID', align: 'right' },
      { header: 'STATE' }, { header: 'RESTARTS', align: 'right' }, { header: 'GENERATION', align: 'right' },
      { header: 'LEVEL' }, { header: 'UPTIME', align: 'right' }, { header: 'LOOP' }, ...(withReason ? [{ header: 'REASON' }] : []),
    ],
    result.workers.map((w) => [
      w.id, w.interface, String(w.core), orDash(w.pid), w.state, String(w.restarts), String(w.generation),
      orDash(w.logLevel),
      // No process, no uptime: a slot waiting to restart keeps its old start time.
      present(w.pid) && present(w.startedAtMs) ? formatDuration(nowMs - w.startedAtMs) : '-',
      formatLoop(w.loop, w.loopSteppedDown),
      ...(withReason ? [present(w.reason) ? oneLine(w.reason) : '-'] : []),
    ]),
  );
}

/**
 * One log line, in fixed-width fields rather than a table: with --follow,
 * lines print as they arrive, so widths cannot depend on later lines.
 */
export function renderLogLine(line: LogLine): string {
  const time = present(line.timeMs) ? new Date(line.timeMs).toISOString() : '-'.padEnd(24);
  return `${time} ${line.worker.padEnd(10)} ${line.level.toUpperCase().padEnd(5)} ${oneLine(line.message)}`;
}

export function renderLogLevels(result: LogLevelGetResult): string[] {
  return table(
    [{ header: 'PROCESS' }, { header: 'LEVEL' }],
    [['mcrd', result.level], ...result.workers.map((w) => [w.worker, orDash(w.level)])],
  );
}

export function renderLogLevelSet(result: LogLevelSetResult, worker: string | undefined): string[] {
  const where = worker === undefined
    ? `mcrd and ${result.workers} worker${result.workers === 1 ? '' : 's'}`
    : `worker ${worker}`;
  return [`log level ${result.level} set on ${where}`];
}

/** The summary, then one line per rule touched, and under a changed rule one line per field. */
export function renderReload(r: ReloadResult): string[] {
  const lines = [`reloaded ${r.file}: ${r.added} added, ${r.removed} removed, ${r.changed} changed, ${r.unchanged} unchanged`];
  for (const c of r.changes) {
    const name = present(c.name) ? ` "${c.name}"` : '';
    const was = c.kind === 'changed' ? ` (was rule ${c.previousId})` : '';
    lines.push(`  ${c.kind} rule ${c.ruleId}${name}${was}: ${c.match}`);
    for (const f of c.fields) lines.push(`    ${f.field}: ${f.before === '' ? '(unset)' : f.before} -> ${f.after === '' ? '(unset)' : f.after}`);
  }
  const problems = new Map(r.problems.map((p) => [p.ruleId, p]));
  for (const p of problems.values()) lines.push(`  rule ${p.ruleId}: ${ruleStatus(p)}`);
  if (r.daemonNotApplied.length > 0) {
    lines.push('  daemon settings changed in the file, not applied by a reload (they take effect when mcrd starts again):');
    for (const f of r.daemonNotApplied) lines.push(`    ${f}`);
  }
  return lines;
}

export function renderSave(r: SaveResult): string[] {
  return [`saved ${r.rules} rule${r.rules === 1 ? '' : 's'} to ${r.file}`];
}

export function renderCheck(r: CheckResult): string[] {
  return [`${r.file}: valid, ${r.rules} rule${r.rules === 1 ? '' : 's'}`];
}

export function renderPing(r: PingResult): string[] {
  return [`mcrd is running: pid ${r.pid}, up ${formatDuration(r.uptimeMs)}`];
}

export interface VersionReport {
  mcrctl: VersionResult;
  /** Null when mcrd did not answer; mcrdError says why. */
  mcrd: VersionResult | null;
  mcrdError?: { code: string; message: string };
}

export function renderVersion(v: VersionReport): string[] {
  const row = (who: string, r: VersionResult): string[] => [who, r.version, r.node, String(r.protocol)];
  const rows = [row('mcrctl', v.mcrctl)];
  if (v.mcrd) rows.push(row('mcrd', v.mcrd));
  const lines = table([{ header: 'COMPONENT' }, { header: 'VERSION' }, { header: 'NODE' }, { header: 'PROTOCOL', align: 'right' }], rows);
  if (v.mcrdError) lines.push(`mcrd did not answer (${v.mcrdError.code}): ${v.mcrdError.message}`);
  else if (v.mcrd && v.mcrd.protocol !== v.mcrctl.protocol) {
    lines.push(`mcrd speaks control protocol ${v.mcrd.protocol} and mcrctl ${v.mcrctl.protocol}: use matching versions`);
  }
  return lines;
}

/** The SOURCE column: the sources, "-" for any, and "except" the excluded ones. */
function formatSources(r: { source?: string | undefined; excludeSources?: string | undefined }): string {
  const src = orDash(r.source);
  return r.excludeSources !== undefined && r.excludeSources !== '' ? `${src} except ${r.excludeSources}` : src;
}
