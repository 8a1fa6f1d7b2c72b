/**
 * Does mcrd's memory grow under rule churn, and is it retention or heap
 * sizing? In a relay lab, mcrd runs with one worker, one permanent rule,
 * and node's `--trace-gc` (its GC lines go to mcrd's stdout, next to the
 * pino lines). The bench then runs `--cycles` add/remove cycles, each on a
 * fresh control connection per request as `mcrctl add` / `mcrctl remove`
 * make them (the same ControlClient without the CLI's start-up), the added
 * rule on one of 200 input groups in turn so that groups are joined and
 * left; with `--stats` each cycle also asks for stats while the rule
 * exists. Every `--every` cycles it prints mcrd's RSS and anonymous RSS
 * (/proc/PID/status), V8's committed heap after the last GC and the live
 * heap after the last full GC (Mark-Compact). With `--snapshots DIR`, mcrd
 * also runs with `--heapsnapshot-signal=SIGUSR2` and a heap snapshot (which
 * forces a full GC first) is taken after a warm-up of 600 cycles and at
 * the end; the bench prints each one's live size and the constructors whose
 * counts changed.
 * A snapshot costs mcrd tens of MB of RSS itself, so RSS figures after the
 * first one are not comparable to a run without.
 *
 * `node dist/bench/mcrd-memory.js [--cycles 4000] [--every 500] [--stats]
 * [--semi-space MB] [--snapshots DIR]` (`--semi-space` passes
 * `--max-semi-space-size` to mcrd's node). Needs root (network namespaces).
 *
 * What it showed (2026-12-03, Node 20): no retention. From 600 to 3600
 * cycles with --stats the live heap after a full GC went 10.9 -> 11.6 MB,
 * all of it optimised code and its dependency lists (JIT), while no
 * constructor's object count grew; RSS rose from 66 to ~105-109 MB and then
 * stayed flat (through 4000 cycles) because V8 grew its young generation
 * to the maximum under the churn's allocation rate (committed heap
 * 18 -> 56 MB); with --semi-space 1 RSS fell back to 74 MB at the next full
 * GCs.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRelayLab, labUnavailableReason, type LabProcess } from './lab/index.js';
import { ControlClient } from '../common/control-client.js';
import type { RequestDraft } from '../proto/types.js';
import { packageRoot } from '../native/package-root.js';

const MCRD = join(packageRoot(), 'dist', 'supervisor', 'mcrd.js');
/**
 * Cycles before the first figures count: a worker logs two lines per cycle
 * into its ring of 1000 (supervisor/worker-logs.ts), full after 500 cycles,
 * and snapshots compared before that would show the ring filling.
 */
const WARM_UP_CYCLES = 600;

interface GcLine { kind: string; usedAfterMb: number; committedAfterMb: number }

/** The last GC line of `kind` (a regex on the GC's name) in mcrd's stdout, parsed. */
function lastGc(lines: readonly string[], kind: RegExp): GcLine | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /ms: ([A-Za-z -]+?)(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/.exec(lines[i] ?? '');
    if (m?.[1] !== undefined && kind.test(m[1])) return { kind: m[1], usedAfterMb: Number(m[2]), committedAfterMb: Number(m[3]) };
  }
  return undefined;
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(m[1]);
}

/** Live size (sum of self sizes) and node counts by type:name of a .heapsnapshot file. */
function readSnapshot(file: string): { liveMb: number; counts: Map<string, number> } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = s.snapshot.meta.node_fields;
  const [ti, ni, si] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const types = s.snapshot.meta.node_types[0];
  const counts = new Map<string, number>();
  let bytes = 0;
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + ti] ?? 0] ?? '?';
    // Objects and closures by constructor; strings, code and the rest by type only (their names are contents).
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${type}:${s.strings[s.nodes[i + ni] ?? 0] ?? ''}` : type;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    bytes += s.nodes[i + si] ?? 0;
  }
  return { liveMb: bytes / 1e6, counts };
}

/** Sends SIGUSR2 to mcrd and waits until its n-th snapshot file is complete (its size stops changing). */
async function takeSnapshot(mcrd: LabProcess, dir: string, n: number): Promise<string> {
  process.kill(mcrd.pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  let last = -1;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort();
    const file = files[n - 1];
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) return join(dir, file);
    last = size;
  }
  throw new Error(`ETIMEDOUT: mcrd (pid ${mcrd.pid}) wrote no complete heap snapshot ${n} into ${dir} within 120 s`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    cycles: { type: 'string', default: '4000' }, every: { type: 'string', default: '500' }, stats: { type: 'boolean', default: false },
    'semi-space': { type: 'string' }, snapshots: { type: 'string' },
  } });
  const cycles = Number(values.cycles);
  const every = Number(values.every);
  if (!Number.isInteger(cycles) || cycles < 1 || !Number.isInteger(every) || every < 1) throw new Error('EINVAL: --cycles and --every take positive integers');
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) throw new Error(`ERR_MCR_LAB: ${unavailable}`);
  const nodeFlags = ['--trace-gc'];
  if (values['semi-space'] !== undefined) nodeFlags.push(`--max-semi-space-size=${values['semi-space']}`);
  if (values.snapshots !== undefined) nodeFlags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${values.snapshots}`);

  const rl = await createRelayLab({ tag: 'mem' });
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-memory-'));
  const socket = join(dir, 'mcrd.sock');
  let mcrd: LabProcess | undefined;
  try {
    mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [...nodeFlags, MCRD, '--control-socket', socket, '--workers', '1'], { maxLines: 1_000_000 });
    await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 15_000);
    const pid = mcrd.pid;
    const ask = async (body: RequestDraft): Promise<void> => {
      const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 20_000 });
      await client.connect(socket);
      try {
        await client.request(body);
      } finally {
        client.close();
      }
    };
    await ask({ kind: 'addRule', rule: { name: 'base', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] } });
    const cycle = async (i: number): Promise<void> => {
      const n = (i % 200) + 1;
      await ask({ kind: 'addRule', rule: { name: `churn${i}`, inputInterface: 'in0', inputGroup: `239.3.${n}.1`, inputPort: 7000 + n,
        outputs: [{ group: `239.4.${n}.1`, port: 8000 + n, interface: 'out0' }] } });
      if (values.stats) await ask({ kind: 'stats' });
      await ask({ kind: 'removeRule', name: `churn${i}` });
    };
    const row = (label: string): void => {
      const lines = mcrd?.stdoutLines ?? [];
      const any = lastGc(lines, /./);
      const full = lastGc(lines, /Mark-Compact|Mark-Sweep/);
      const mb = (kb: number): string => (kb / 1024).toFixed(1);
      console.log(`${label.padStart(10)}  RSS ${mb(statusKb(pid, 'VmRSS')).padStart(6)} MB  anon ${mb(statusKb(pid, 'RssAnon')).padStart(6)} MB  ` +
        `heap committed ${any?.committedAfterMb.toFixed(1) ?? '-'} MB  live after last full GC ${full?.usedAfterMb.toFixed(1) ?? '-'} MB`);
    };
    row('start');
    for (let i = 1; i <= WARM_UP_CYCLES; i++) await cycle(i);
    row(`${WARM_UP_CYCLES} (warm)`);
    const snapshots: string[] = [];
    if (values.snapshots !== undefined) snapshots.push(await takeSnapshot(mcrd, values.snapshots, 1));
    for (let i = WARM_UP_CYCLES + 1; i <= WARM_UP_CYCLES + cycles; i++) {
      await cycle(i);
      if ((i - WARM_UP_CYCLES) % every === 0) row(String(i));
    }
    await new Promise((r) => setTimeout(r, 5000));
    row('+5 s idle');
    if (values.snapshots !== undefined) {
      snapshots.push(await takeSnapshot(mcrd, values.snapshots, 2));
      const [a, b] = snapshots.map(readSnapshot);
      if (a === undefined || b === undefined) throw new Error('two snapshots expected');
      console.log(`heap snapshots (full GC first): live ${a.liveMb.toFixed(2)} MB after warm-up, ${b.liveMb.toFixed(2)} MB after ${cycles} more cycles`);
      const changed = [...new Set([...a.counts.keys(), ...b.counts.keys()])]
        .map((k) => ({ k, d: (b.counts.get(k) ?? 0) - (a.counts.get(k) ?? 0) })).filter((r) => r.d !== 0).sort((x, y) => Math.abs(y.d) - Math.abs(x.d));
      for (const { k, d } of changed.slice(0, 20)) console.log(`  ${String(d).padStart(7)}  ${k}`);
    }
    await mcrd.stop('SIGTERM', 10_000);
  } finally {
    mcrd?.killNow();
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`mcrd-memory: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
