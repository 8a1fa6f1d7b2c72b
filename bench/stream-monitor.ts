/**
 * `npm run bench:monitor`: what the stream monitor costs per datagram, with
 * the monitor off and on side by side in one run (build/Release/
 * monitor_bench: parse, rule lookup and counters as the loop does them,
 * plus the analyzers when on). Two measures: thread CPU per datagram
 * (median of alternating repeats, so host drift hits both sides), and,
 * where valgrind is installed, callgrind's instruction counts per datagram,
 * which the noise of a shared host does not touch. Prints a Markdown table
 * for docs/performance.md ("Stream monitor cost"); the share of the relay
 * core is against RELAY_NS_PER_DATAGRAM, the relay core's CPU per datagram
 * measured by `npm run bench` (docs/performance.md).
 *
 *   node dist/bench/stream-monitor.js [--repeats N] [--relay-ns NS]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../tools/native-tool.js';

const BIN = join(packageRoot(), 'build', 'Release', 'monitor_bench');
/** The relay core's CPU per datagram, 64 B x1 through mcrd (docs/performance-history.md, "Profiles: what is in the way at fan-out 1", 2026-12-03: 2.03 µs). */
const RELAY_NS_PER_DATAGRAM = 2030;
const FRAMES = 4096;
const CALLGRIND_PASSES = 10;

interface Timed { case: string; offNs: number; onNs: number; addedNs: number }

function option(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw Object.assign(new Error(`${name}: expected a positive number`), { code: 'ERR_MCR_BENCH_ARGS' });
  return v;
}

/** Instructions (callgrind Ir) of one run of monitor_bench. */
function instructions(c: string, mode: 'off' | 'on', passes: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-callgrind-'));
  try {
    const out = join(dir, 'cg.out');
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, BIN, '--case', c, '--mode', mode, '--passes', String(passes)],
      { stdio: ['ignore', 'ignore', 'ignore'] });
    const m = /^summary:\s+(\d+)/m.exec(readFileSync(out, 'utf8'));
    if (m?.[1] === undefined) throw Object.assign(new Error(`no callgrind summary for ${c} ${mode}`), { code: 'ERR_MCR_BENCH' });
    return Number(m[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const repeats = option('--repeats', 15);
  const relayNs = option('--relay-ns', RELAY_NS_PER_DATAGRAM);
  const timed = execFileSync(BIN, ['--repeats', String(repeats)], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as Timed);
  const haveValgrind = spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0;
  const perDatagram = (c: string, mode: 'off' | 'on'): number =>
    (instructions(c, mode, CALLGRIND_PASSES) - instructions(c, mode, 0)) / (CALLGRIND_PASSES * FRAMES);
  console.log(`| payload | CPU off (ns) | CPU on (ns) | added (ns) | added / relay core (${(relayNs / 1000).toFixed(2)} µs) |` +
    (haveValgrind ? ' instructions off | on | added |' : ''));
  console.log('|---|---|---|---|---|' + (haveValgrind ? '---|---|---|' : ''));
  for (const t of timed) {
    let ir = '';
    if (haveValgrind) {
      const off = perDatagram(t.case, 'off');
      const on = perDatagram(t.case, 'on');
      ir = ` ${off.toFixed(1)} | ${on.toFixed(1)} | ${(on - off).toFixed(1)} |`;
    }
    console.log(`| ${t.case} | ${t.offNs.toFixed(1)} | ${t.onNs.toFixed(1)} | ${t.addedNs.toFixed(1)} | ${((100 * t.addedNs) / relayNs).toFixed(2)} % |${ir}`);
  }
  if (!haveValgrind) console.log('(valgrind not installed: no instruction counts)');
}

main();
