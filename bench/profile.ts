#!/usr/bin/env node
/**
 * `npm run bench:profile`: where the relay core's time goes. Builds the
 * benchmark lab (same steering as `npm run bench`), starts one method pinned
 * to core 1, offers a fixed rate from core 0 and, while it runs, samples
 * core 1 with `perf record -C 1 -g` (cpu-clock, so it works in VMs without
 * hardware counters). Prints the top symbols by self time and the packets
 * that arrived, and writes the report to bench/results/<stamp>-profile-<method>.txt.
 *
 * It answers "what is in the way" for issue 4's note: copies (memcpy in the
 * loop), allocations (malloc in the loop) and how the kernel's share splits
 * between receive, send and wake-ups. A profile, not a benchmark: perf's
 * sampling costs a little, so read shares, not rates.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { intOption } from './cli-int.js';
import { labUnavailableReason } from './lab/index.js';
import { packageRoot } from '../tools/native-tool.js';
import { createBenchLab, readSinkRx, type BenchLab } from './bench-lab.js';
import { METHODS, OTHER_CPU, RELAY_CPU, type MethodName } from './config.js';
import { describeError } from './errors.js';
import { pacedBurst, runGenerator, setGeneratorBurst } from './generator.js';
import { START } from './methods/index.js';
import { busySecBetween, idleIsExact, interruptsPer, readCpuTimes, readInterrupts } from './host-counters.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { fileStamp } from './results.js';

interface ProfileArgs {
  method: MethodName;
  rate: number;
  size: number;
  fanout: number;
  seconds: number;
  sinkRps: boolean;
  out: string;
  perfData: string | undefined;
  /** Standalone relay flags instead of mcrd (design experiments). */
  relayArgs: string[] | undefined;
  /** Extra mcrd flags. */
  mcrdArgs: string[] | undefined;
  /** Datagrams per paced burst of the generator (1 = evenly spaced). */
  genBurst: number;
}

function parseArgs(argv: string[]): ProfileArgs {
  const program = new Command('bench:profile')
    .description('perf profile of the relay core while one method forwards a fixed rate in the bench lab')
    .option('--method <name>', `one of ${METHODS.join(', ')}`, 'mcr')
    .option('--rate <pps>', 'offered input datagrams per second', intOption(1000, 2_000_000), 60_000)
    .option('--size <bytes>', 'UDP payload bytes', intOption(18, 1472), 64)
    .option('--fanout <n>', 'outputs', intOption(1, 10), 1)
    .option('--seconds <s>', 'seconds of traffic (perf samples the middle of it)', intOption(3, 60), 6)
    .option('--no-sink-rps', "leave the sinks' receive work on the relay core")
    .option('--out <dir>', 'where the report goes', join(packageRoot(), 'bench', 'results'))
    .option('--perf-data <file>', 'keep perf.data there (for perf report -G on a symbol) instead of deleting it')
    .option('--mcrd-args <args>', 'MCR only: extra mcrd flags (space-separated), e.g. "--consume-inputs --coalesce-us 20"')
    .option('--relay-args <args>', 'MCR only: run the standalone relay with these extra flags (space-separated) instead of mcrd')
    .option('--gen-burst <n>', 'the largest paced burst of the generator, in datagrams (1 = evenly spaced; the suite sends up to 8: rate ÷ 5000, at least 1)', intOption(1, 64), 8)
    .parse(argv);
  const o = program.opts<{ method: string; rate: number; size: number; fanout: number; seconds: number; sinkRps: boolean; out: string;
    perfData?: string; relayArgs?: string; mcrdArgs?: string; genBurst: number }>();
  if (!(METHODS as readonly string[]).includes(o.method)) {
    program.error(`error: --method must be one of ${METHODS.join(', ')}`, { exitCode: 2 });
  }
  return { ...o, method: o.method as MethodName, perfData: o.perfData, relayArgs: o.relayArgs?.split(/\s+/).filter((x) => x !== ''),
    mcrdArgs: o.mcrdArgs?.split(/\s+/).filter((x) => x !== '') };
}

/** Runs perf on core 1 for `seconds`, then renders the report by symbol. */
async function perfCore(seconds: number, dataFile: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const p = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-C', String(RELAY_CPU), '-g', '-o', dataFile, '--', 'sleep', String(seconds)],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), (seconds + 20) * 1000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`perf record failed (exit ${code}): ${err.trim()} — install it with apt-get install -y linux-perf`));
    });
  });
  const bySymbol = execFileSync('perf', ['report', '-i', dataFile, '--stdio', '--no-children', '--sort', 'comm,sym', '-g', 'none',
    '--percent-limit', '0.7'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const kept = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  // Everything outside the kernel, however small: the proof that the loop
  // itself does no malloc, memcpy or JavaScript per packet.
  const byDso = execFileSync('perf', ['report', '-i', dataFile, '--stdio', '--no-children', '--sort', 'dso,sym', '-g', 'none',
    '--percent-limit', '0'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const user = kept(byDso).filter((l) => !l.includes('[k]')).slice(0, 40);
  const userTotal = user.reduce((sum, l) => sum + (Number(/^\s*([\d.]+)%/.exec(l)?.[1]) || 0), 0);
  return [...kept(bySymbol), '', `user space (every symbol outside the kernel, top 40; ${userTotal.toFixed(2)} % of samples in these):`, ...user].join('\n');
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv);
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    process.stderr.write(`bench:profile: ${unavailable}\n`);
    return 2;
  }
  setGeneratorBurst(a.genBurst);
  pinRunnerOffRelayCore();
  mkdirSync(a.out, { recursive: true });
  const dataFile = a.perfData ?? join(a.out, `.perf-${process.pid}.data`);
  const removeData = (): void => { if (a.perfData === undefined) rmSync(dataFile, { force: true }); };
  let bl: BenchLab | undefined;
  const cleanup = (): void => {
    bl?.destroySync();
    removeData();
  };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    bl = await createBenchLab(a.fanout, { sinkRps: a.sinkRps });
    const method = await START[a.method](bl, { fanout: a.fanout, ...(a.relayArgs ? { tuning: { extraArgs: a.relayArgs } } : {}),
      ...(a.mcrdArgs ? { mcrdArgs: a.mcrdArgs } : {}) });
    try {
      const before = await sinkRx(bl, a.fanout);
      const loopBefore = await method.counters?.();
      const cpuBefore = readCpuTimes()[RELAY_CPU];
      const irqBefore = readInterrupts();
      const t0 = process.hrtime.bigint();
      const gen = runGenerator(bl, { rate: a.rate, size: a.size, durationSec: a.seconds });
      await new Promise((r) => setTimeout(r, 1000));
      const report = await perfCore(a.seconds - 2, dataFile);
      const g = await gen;
      await new Promise((r) => setTimeout(r, 500));
      const arrived = (await sinkRx(bl, a.fanout)) - before;
      const loopAfter = await method.counters?.();
      const cpuAfter = readCpuTimes()[RELAY_CPU];
      const irqAfter = readInterrupts();
      // The window less idle time where idle is exact (tickless): the
      // tick-sampled busy fields miss or multiply timer-driven work (host-counters.ts).
      const windowSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const busy = busySecBetween(cpuBefore, cpuAfter, windowSec, idleIsExact(RELAY_CPU));
      const header = [`method ${a.method}${a.mcrdArgs ? ` (mcrd ${a.mcrdArgs.join(' ')})` : ''}, offered ${a.rate} pps in bursts of ${pacedBurst(a.rate)}, ${a.size} B, fan-out ${a.fanout}, sink RPS ${a.sinkRps ? 'on' : 'off'}`,
        `generator sent ${g.sent} (${Math.round(g.pps)} pps); sinks received ${arrived} of ${g.sent * a.fanout} ` +
        `(loss ${(100 * (1 - arrived / Math.max(1, g.sent * a.fanout))).toFixed(3)} %)`,
        `relay core busy ${busy.toFixed(2)} s over the run: ${((busy / Math.max(1, arrived / a.fanout)) * 1e6).toFixed(2)} µs per forwarded input datagram (perf's own sampling included)`,
        ...loopDelta(loopBefore, loopAfter),
        interruptsPerDatagram(irqBefore, irqAfter, g.sent),
        `perf record -e cpu-clock -C ${RELAY_CPU} -g for ${a.seconds - 2} s; self time by command and symbol:`].join('\n');
      const text = `${header}\n${report}\n`;
      const file = join(a.out, `${fileStamp(new Date())}-profile-${a.method}-${a.size}B-x${a.fanout}.txt`);
      writeFileSync(file, text);
      process.stdout.write(`${text}\nwritten to ${file}\n`);
    } finally {
      await method.stop().catch(() => undefined);
    }
    return 0;
  } catch (err) {
    const e = describeError(err);
    process.stderr.write(`bench:profile: ${e.code}: ${e.message}\n`);
    return 1;
  } finally {
    if (bl !== undefined) await bl.destroy().catch(() => bl?.destroySync());
    removeData();
  }
}

/** MCR's loop counters that moved during the run, per input frame where that reads better. */
function loopDelta(before: Record<string, number> | undefined, after: Record<string, number> | undefined): string[] {
  if (before === undefined || after === undefined) return [];
  const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
  const frames = Math.max(1, d('frames'));
  // Gauges (the in-flight counts, the policy's busy share) are readings,
  // not counts: a difference of two means nothing, and the reading after the
  // traffic has stopped says nothing of the run either, so they are left out.
  const gauge = (k: string): boolean => k.startsWith('inflight') || k === 'busy_permille';
  const moved = Object.keys(after).filter((k) => d(k) !== 0 && !gauge(k));
  return [`loop counters (delta): ${moved.map((k) => `${k} ${d(k)}`).join(', ')}`,
    `per input frame: io_uring_enter ${(d('submit_calls') / frames).toFixed(3)}, loop turns ${(d('loop_iterations') / frames).toFixed(3)}`];
}

/**
 * Timer interrupts and IPIs each core took per input datagram. On this
 * project's paravirtualized VM perf places little of their cost (it lands
 * on whichever instruction re-enables interrupts), yet each is a trip
 * through the hypervisor: their counts tell relays apart where the profile
 * cannot. Core 1's LOC includes perf's own sampling timer.
 */
function interruptsPerDatagram(before: Map<string, number[]>, after: Map<string, number[]>, datagrams: number): string {
  const rows = ['LOC', 'CAL', 'RES'].map((name) => {
    const per = [OTHER_CPU, RELAY_CPU].map((cpu) => interruptsPer(before, after, name, cpu, datagrams));
    return `${name} core ${OTHER_CPU} ${per[0]?.toFixed(3)}, core ${RELAY_CPU} ${per[1]?.toFixed(3)}`;
  });
  return `interrupts per input datagram (LOC timer, CAL function-call IPIs such as RPS, RES rescheduling): ${rows.join('; ')}`;
}

async function sinkRx(bl: BenchLab, fanout: number): Promise<number> {
  return (await readSinkRx(bl, fanout)).reduce((x, y) => x + y, 0);
}

process.exitCode = await main();
