/**
 * The markdown report of a run: zero-loss throughput and CPU cost per method,
 * payload and fan-out, MCR's figures as a ratio to every anchor measured in
 * the same run, what limited each figure, which anchors this host could not
 * run and why, one-way latency (latency-report.ts), MCR's syscalls per
 * packet, the design experiments and the
 * issue's targets. Printed at the end of a run and written beside the JSON.
 */
import { ANCHORS, hasFamily, LOSS_THRESHOLD, SPORADIC_LOSS, METHOD_LABELS, METHODS, type Family, type MethodName } from './config.js';
import type { ExperimentRow } from './experiments.js';
import { GEN_GSO } from './generator.js';
import { damonNote } from './host-counters.js';
import { latencySection } from './latency-report.js';
import { ipv6Section } from './report-ipv6.js';
import { kpps } from './limits.js';
import type { BenchResults, CellResult } from './results.js';

/** A figure with its generator-limited mark, so ratios can say ≥ or ≤. */
interface Figure {
  value: number;
  atLeast: boolean;
}

export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const methods = METHODS.filter((m) => r.config.methods.includes(m));
  out.push(`# MCR benchmark: ${r.startedAt}${r.interrupted ? ` (INTERRUPTED by ${r.interrupted}: partial)` : ''}`, '');
  out.push(...header(r), '');
  // A run of the IPv6 cells alone (--families 6) has none of the IPv4 tables.
  const v4 = hasFamily(r.config, 4);
  if (v4) out.push(...ipv4Throughput(r, methods));
  else out.push('IPv4 was not measured in this run (--families 6): only the IPv6 cells below.', '');
  out.push(...ipv6Section(r));
  out.push(...latencySection(r));
  const skipped = skippedMethods(r);
  if (skipped.length > 0) {
    out.push('## Anchors not measured on this host', '', ...skipped.map(([m, why]) => `- ${METHOD_LABELS[m]}: ${why}`), '');
  }
  if (v4) out.push(...ipv4Cpu(r, methods));
  out.push('## What limited each figure', '');
  out.push('From the lowest-rate failing trial of each cell: relay-core and core-0 utilisation, and where the lost packets were counted.', '');
  out.push(limitTable(r), '');
  if (methods.includes('mcr')) out.push('## MCR system calls per packet (at its zero-loss rate)', '', syscallTable(r), '');
  if (r.experiments !== undefined) out.push(...experiments(r), '');
  if (r.experimentsError !== undefined) out.push(`Experiments failed: ${r.experimentsError.code} ${r.experimentsError.message}`, '');
  if (v4) out.push('## Targets (issue 4)', '', ...targets(r), '');
  if (r.errors.length > 0) {
    out.push('## Errors', '', ...r.errors.map((e) => `- ${e.where}: \`${e.code}\` ${e.message}`), '');
  }
  return out.join('\n');
}

/** How many narrow failures the majority rule outvoted, by method (search.ts, SPORADIC_LOSS). */
function outvotedLine(r: BenchResults): string {
  const by = new Map<string, number>();
  for (const c of r.cells) {
    const n = (c.search?.trials ?? []).filter((t) => t.outvoted === true).length;
    if (n > 0) by.set(c.method, (by.get(c.method) ?? 0) + n);
  }
  if (by.size === 0) return 'none outvoted in this run';
  return `outvoted in this run: ${[...by].map(([m, n]) => `${METHOD_LABELS[m as MethodName]} ${n}`).join(', ')}`;
}

/** The IPv4 matrix's throughput table and MCR's ratios to each anchor. */
function ipv4Throughput(r: BenchResults, methods: MethodName[]): string[] {
  const out: string[] = [];
  out.push('## Zero-loss throughput (input datagrams/s)', '');
  out.push(`Highest offered rate with loss ≤ ${LOSS_THRESHOLD * 100} % over ${r.config.trialSec} s, verified by a repeat; ` +
    `a trial that failed with loss ≤ ${SPORADIC_LOSS * 100} % is judged with up to two more at its rate (the rate passes when both pass; ${outvotedLine(r)}, IPv6 cells included); ` +
    '"≥" = passed at the generator\'s maximum (generator-limited, the method was not saturated); ' +
    '"(unverified)" = the repeat never passed.', '');
  out.push(throughputTable(r, methods), '');
  const anchors = ANCHORS.filter((m) => methods.includes(m));
  if (methods.includes('mcr') && anchors.length > 0) {
    out.push('## MCR as a ratio to each anchor (same run)', '');
    out.push('Zero-loss throughput, MCR ÷ anchor (higher is better for MCR; "≥"/"≤" where a figure is generator-limited):', '');
    out.push(ratioTable(r, anchors, (mcr, a) => throughputRatio(figure(mcr), figure(a))), '');
    out.push('Relay-core CPU per million input datagrams, MCR ÷ anchor (lower is better for MCR; each at its own zero-loss rate):', '');
    out.push(ratioTable(r, anchors, (mcr, a) => cpuRatio(mcr, a)), '');
  }
  return out;
}

/** The IPv4 matrix's CPU table. */
function ipv4Cpu(r: BenchResults, methods: MethodName[]): string[] {
  const out: string[] = [];
  out.push('## Relay-core CPU per million packets', '');
  out.push("The method's time on core 1 during the verifying trial (all core 1 did, from its exact idle time, less other " +
    "programs' run time there: its processes, its receive path and for the kernel all forwarding; plus its threads on " +
    "core 0; docs/performance.md, \"The method\"), per million input datagrams forwarded / " +
    'per million egress packets, at the rate shown. Lower is better.' +
    // Runs before 2026-12-03 recorded no mcrdArgs.
    ((r.config.mcrdArgs as readonly string[] | undefined)?.includes('--busy-poll-us') === true
      ? " MCR's figures include its busy polling (--busy-poll-us): the loop keeps its core busy while traffic flows, " +
        'so its share is about the whole core at any rate' +
        (r.experiments?.settings !== undefined ? '; the settings table below gives the cost without it.' : '.')
      : ''), '');
  out.push(cpuTable(r, methods), '');
  return out;
}

function header(r: BenchResults): string[] {
  const gen = r.generatorMax.map((g) => `${g.family === 6 ? 'IPv6 ' : ''}${g.payload} B: ${kpps(g.pps)}`).join(', ');
  return [
    `- Mode: ${r.config.mode}; ${r.config.trialSec} s trials, ${r.config.bisectSteps} bisection steps; finished ${r.finishedAt ?? '–'}`,
    `- Host: ${r.host.cpuModel}, ${r.host.cores} cores, Linux ${r.host.kernel}; load average at start ${r.host.loadavgAtStart}; ` +
      `background busy before the run: ${r.host.backgroundUtil.map((u, i) => `core ${i} ${(u * 100).toFixed(0)} %`).join(', ')}` +
      (r.host.damon !== undefined ? `; ${damonNote(r.host.damon)}` : ''),
    `- Versions: MCR ${r.versions.mcrCommit}, Node ${r.versions.node}, smcroute ${r.versions.smcroute ?? '–'}, socat ${r.versions.socat ?? '–'}, ` +
      `nftables ${r.versions.nft ?? '–'}, GStreamer ${r.versions.gstreamer ?? '–'}`,
    // Runs before 2026-12-03 recorded no mcrdArgs: mcrd defaults, one-by-one generator.
    ...(r.config.mcrdArgs === undefined
      ? [`- Generator maximum (mcrgen --rate 0, core 0, no method running): ${gen}`]
      : [`- Generator maximum (mcrgen --rate 0 --gso ${GEN_GSO}, core 0, no method running): ${gen}`,
        `- MCR: taskset -c 0,1 mcrd --workers 1 --worker-cpus 1 ${r.config.mcrdArgs.join(' ') || '(defaults)'} (worker on core 1, mcrd itself on core 0, its CPU counted; docs/mcrd.md "Throughput settings", "CPUs"); ` +
          `the generator sends UDP_SEGMENT batches of ${GEN_GSO} and does not resend what the relay core's input backlog drops (docs/performance.md, "Generator")`]),
    `- Other load on the relay core during trials (processes not under test, steal): ${interference(r)}`,
    '- Lab: veth src → relay → N sinks; relay input RPS → core 1 (relay/socat/smcrouted pinned there), mcrgen on core 0, ' +
      (r.config.sinkRps ? "sinks' RPS → core 0" : "sinks NOT steered (their receive work runs on the sending core: diagnostic run)"),
    ...(r.config.awakeCore === true
      ? ["- Kernel: core 1 kept awake during its trials by a SCHED_IDLE busy loop (--awake-core; its CPU counts as the kernel's)"]
      : []),
  ];
}

function interference(r: BenchResults): string {
  const trials = r.cells.flatMap((c) => c.search?.trials ?? []);
  if (trials.length === 0) return '–';
  const shares = trials.map((t) => t.interferenceSec / t.windowSec);
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  const repeats = trials.filter((t) => t.superseded === true).length;
  const waited = trials.reduce((a, t) => a + (t.quietWaitMs ?? 0), 0) / 1000;
  return `mean ${(mean * 100).toFixed(1)} %, max ${(Math.max(...shares) * 100).toFixed(0)} % of a trial; ` +
    `${repeats} failed trial(s) repeated because of it; ${waited.toFixed(0)} s spent waiting for a quiet host before trials`;
}

/** The cell of a method, payload, fan-out and IP version (IPv4 unless `family` says 6). */
export function cell(r: BenchResults, method: MethodName, payload: number, fanout: number, family: Family = 4): CellResult | undefined {
  return r.cells.find((c) => c.method === method && c.payload === payload && c.fanout === fanout && (c.family ?? 4) === family);
}

export function figure(c: CellResult | undefined): Figure | undefined {
  const s = c?.search;
  if (s === undefined) return undefined;
  return { value: s.zeroLossPps, atLeast: s.generatorLimited };
}

export function fmtRate(c: CellResult | undefined): string {
  if (c === undefined) return '–';
  if (c.skipped !== undefined) return `not measured: ${c.skipped}`;
  if (c.error !== undefined) return `error \`${c.error.code}\``;
  const s = c.search;
  if (s === undefined) return '–';
  if (s.zeroLossPps === 0) return `0 (fails at ${kpps(s.failedBelowPps ?? 0)})`;
  return `${s.generatorLimited ? '≥ ' : ''}${kpps(s.zeroLossPps)}${s.verified ? '' : ' (unverified)'}`;
}

/** a ÷ b for throughput: a generator-limited numerator makes the ratio a lower bound, and so on. */
export function throughputRatio(a: Figure | undefined, b: Figure | undefined): string {
  if (a === undefined || b === undefined || b.value === 0) return '–';
  const x = a.value / b.value;
  if (a.atLeast && b.atLeast) return `${x.toFixed(2)}× (both at generator max)`;
  return `${a.atLeast ? '≥ ' : b.atLeast ? '≤ ' : ''}${x.toFixed(2)}×`;
}

function throughputTable(r: BenchResults, methods: MethodName[]): string {
  const cols = ['payload B', 'fan-out', ...methods.map((m) => METHOD_LABELS[m])];
  if (methods.includes('mcr')) cols.push('MCR egress pps');
  const rows: string[][] = [];
  for (const payload of r.config.payloads) {
    for (const fanout of r.config.fanouts) {
      const row = [String(payload), String(fanout), ...methods.map((m) => fmtRate(cell(r, m, payload, fanout)))];
      if (methods.includes('mcr')) {
        const s = cell(r, 'mcr', payload, fanout)?.search;
        row.push(s === undefined ? '–' : `${s.generatorLimited ? '≥ ' : ''}${kpps(s.zeroLossPps * fanout)}`);
      }
      rows.push(row);
    }
  }
  return table(cols, rows);
}

/** One row per payload and fan-out, one "MCR ÷ anchor" column per anchor in the run. */
function ratioTable(r: BenchResults, anchors: MethodName[], ratio: (mcr: CellResult | undefined, anchor: CellResult) => string): string {
  const rows: string[][] = [];
  for (const payload of r.config.payloads) {
    for (const fanout of r.config.fanouts) {
      const mcr = cell(r, 'mcr', payload, fanout);
      rows.push([String(payload), String(fanout), ...anchors.map((a) => {
        const c = cell(r, a, payload, fanout);
        if (c === undefined) return '–';
        if (c.skipped !== undefined) return 'not measured';
        if (c.error !== undefined) return `error \`${c.error.code}\``;
        return ratio(mcr, c);
      })]);
    }
  }
  return table(['payload B', 'fan-out', ...anchors.map((a) => `MCR ÷ ${METHOD_LABELS[a]}`)], rows);
}

/** MCR's CPU per million input datagrams ÷ the anchor's, each from its verifying trial. */
export function cpuRatio(mcr: CellResult | undefined, anchor: CellResult | undefined): string {
  const a = mcr?.search?.reported?.cpuSecPerMInput;
  const b = anchor?.search?.reported?.cpuSecPerMInput;
  if (a === undefined || a === null || b === undefined || b === null || b <= 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}

/** Each method the host could not run, once per IP version, with its reason (IPv6 cells: `family` 6). */
export function skippedMethods(r: BenchResults, family: Family = 4): Array<[MethodName, string]> {
  const seen = new Map<MethodName, string>();
  for (const c of r.cells) if (c.skipped !== undefined && (c.family ?? 4) === family && !seen.has(c.method)) seen.set(c.method, c.skipped);
  return [...seen];
}

function cpuTable(r: BenchResults, methods: MethodName[]): string {
  const rows: string[][] = [];
  for (const payload of r.config.payloads) {
    for (const fanout of r.config.fanouts) {
      for (const m of methods) {
        const c = cell(r, m, payload, fanout);
        const t = c?.search?.reported;
        if (c?.skipped !== undefined) {
          rows.push([String(payload), String(fanout), METHOD_LABELS[m], 'not measured', '', '']);
          continue;
        }
        rows.push([String(payload), String(fanout), METHOD_LABELS[m], num(t?.cpuSecPerMInput, 3), num(t?.cpuSecPerMEgress, 3), t === undefined ? '–' : kpps(t.gen.pps)]);
      }
    }
  }
  return table(['payload B', 'fan-out', 'method', 's/M input', 's/M egress', 'at rate'], rows);
}

function limitTable(r: BenchResults): string {
  const rows = r.cells.map((c) => [String(c.payload), String(c.fanout), `${METHOD_LABELS[c.method]}${c.family === 6 ? ' (IPv6)' : ''}`,
    c.skipped !== undefined ? `not measured: ${c.skipped}` : c.error ? `error: ${c.error.message}` : (c.limit ?? '–')]);
  return table(['payload B', 'fan-out', 'method', 'limit'], rows);
}

function syscallTable(r: BenchResults): string {
  const rows: string[][] = [];
  for (const c of r.cells.filter((x) => x.method === 'mcr')) {
    const t = c.search?.reported;
    if (t === undefined) continue;
    rows.push([
      `${c.payload}${c.family === 6 ? ' (IPv6)' : ''}`,
      String(c.fanout),
      kpps(t.gen.pps),
      num(t.syscallsPerInput, 4),
      num(t.syscallsPerEgress, 4),
      String(t.mcr?.kernel_drops ?? 0),
      String(t.mcr?.recv_buffer_exhausted ?? 0),
      String(t.mcr?.backpressure_pauses ?? 0),
    ]);
  }
  return table(['payload B', 'fan-out', 'rate', 'io_uring_enter / input', 'io_uring_enter / egress', 'kernel_drops', 'recv_buffer_exhausted', 'backpressure_pauses'], rows);
}

function experiments(r: BenchResults): string[] {
  const e = r.experiments;
  if (e === undefined) return [];
  const out = [
    `## MCR design experiments (${e.payload} B, fan-out ${e.fanout}, offered ${kpps(e.ratePps)}: ${e.basis})`,
    '',
    'Each variant is a fresh standalone relay (`mcr-relay`, the loop mcrd\'s workers run) with one option changed from the defaults ' +
      '(batch 64, ring depth 1024, UDP_SEGMENT batches on).',
    '',
  ];
  const cols = ['variant', 'loss %', 'pass', 'CPU s/M input', 'CPU s/M egress', 'io_uring_enter / input', 'io_uring_enter / egress', 'kernel_drops', 'relay core busy'];
  const row = (x: ExperimentRow): string[] => {
    const t = x.trial;
    if (t === undefined) return [x.variant, `error \`${x.error?.code ?? '?'}\``, '', '', '', '', '', '', ''];
    return [
      x.variant,
      (t.loss * 100).toFixed(3),
      t.pass ? 'yes' : 'no',
      num(t.cpuSecPerMInput, 3),
      num(t.cpuSecPerMEgress, 3),
      num(t.syscallsPerInput, 4),
      num(t.syscallsPerEgress, 4),
      String(t.mcr?.kernel_drops ?? 0),
      `${(t.relayCoreUtil * 100).toFixed(0)} %`,
    ];
  };
  if (e.batch.length > 0) out.push('### Egress batch size (--batch)', '', table(cols, e.batch.map(row)), '');
  if (e.ringDepth.length > 0) out.push('### Ring depth (--ring-depth)', '', table(cols, e.ringDepth.map(row)), '');
  if (e.gso !== undefined && e.gso.length > 0) out.push('### UDP_SEGMENT batches (--no-udp-gso)', '', table(cols, e.gso.map(row)), '');
  if (e.settings !== undefined && e.settings.length > 0) {
    out.push(`### mcrd throughput settings (${e.payload} B, fan-out 1, offered ${kpps(e.settingsRatePps ?? 0)}: ${e.settingsBasis ?? ''})`, '',
      'mcrd with one worker, as in the matrix, with its defaults and with each setting of docs/mcrd.md "Throughput settings".', '',
      table(cols, e.settings.map(row)), '');
  }
  if (e.strace !== undefined) {
    const s = e.strace;
    const top = s.summary.bySyscall.slice(0, 6).map((x) => `${x.syscall} ${x.calls}`).join(', ');
    out.push('### strace -c -f on MCR\'s worker (matrix settings)', '');
    out.push(`${s.seconds} s window: ${s.summary.totalCalls} system calls (all threads) for ${s.inputPackets} input datagrams ` +
      `and ${s.egressPackets} egress packets: ${num(s.syscallsPerInput, 4)} per input, ${num(s.syscallsPerEgress, 4)} per egress packet ` +
      `(io_uring_enter ${num(s.ioUringEnterPerInput, 4)} per input). Top calls: ${top}. ` +
      'ptrace slows each call, so read the ratio, not the rate.', '');
  }
  if (e.straceError !== undefined) out.push(`strace failed: \`${e.straceError.code}\` ${e.straceError.message}`, '');
  return out;
}

function targets(r: BenchResults): string[] {
  const lines: string[] = [];
  for (const payload of r.config.payloads) {
    const mcr = figure(cell(r, 'mcr', payload, 1));
    const kernel = figure(cell(r, 'kernel', payload, 1));
    const socat = figure(cell(r, 'socat', payload, 1));
    const kernelSkipped = cell(r, 'kernel', payload, 1)?.skipped;
    if (kernelSkipped !== undefined) lines.push(`- ${payload} B, fan-out 1: MCR ÷ kernel (target ≥ 1.0×): not measured: ${kernelSkipped}`);
    if (mcr !== undefined && kernel !== undefined) {
      lines.push(`- ${payload} B, fan-out 1: MCR ÷ kernel = ${throughputRatio(mcr, kernel)} (target ≥ 1.0×): ${verdict(mcr, kernel, 1)}`);
    }
    if (mcr !== undefined && socat !== undefined) {
      lines.push(`- ${payload} B, fan-out 1: MCR ÷ socat = ${throughputRatio(mcr, socat)} (target ≥ 4×): ${verdict(mcr, socat, 4)}`);
    }
  }
  for (const payload of r.config.payloads) {
    const s = cell(r, 'mcr', payload, 10)?.search;
    if (s === undefined) continue;
    const egress = s.zeroLossPps * 10;
    const met = egress >= 700_000;
    lines.push(`- ${payload} B, fan-out 10: MCR egress ${s.generatorLimited ? '≥ ' : ''}${kpps(egress)} (target ≥ 700 kpps): ` +
      (met ? 'met' : s.generatorLimited ? 'not shown (generator-limited)' : `missed by ${kpps(700_000 - egress)} (${((egress / 700_000) * 100).toFixed(0)} % of target)`));
  }
  return lines.length > 0 ? lines : ['- (not measured in this run)'];
}

function verdict(a: Figure, b: Figure, target: number): string {
  if (b.value === 0) return 'baseline passed nothing';
  const x = a.value / b.value;
  if (x >= target) return 'met';
  if (a.atLeast) return 'not shown (MCR generator-limited)';
  return `missed (${((x / target) * 100).toFixed(0)} % of target)`;
}

export function num(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined ? '–' : v.toFixed(digits);
}

export function table(cols: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${cols.map(esc).join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}
