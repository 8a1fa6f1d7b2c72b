#!/usr/bin/env node
/**
 * jsfuzz: a coverage-guided fuzzer for the TypeScript code that reads
 * untrusted bytes, in the mould of libFuzzer (same flags, same output lines,
 * same corpus layout), used by `npm run fuzz` for the harnesses of
 * tests/fuzz/js/. It exists because Jazzer.js, the fuzzer of choice, does
 * not load on Debian 12: its only Linux build (@jazzer.js/fuzzer's prebuilt
 * addon, 4.0.0) needs glibc 2.38 and GCC 13's libstdc++, and building it
 * from source downloads a fork of LLVM that no registry carries
 * (docs/reliability.md, "Fuzzing").
 *
 *   node dist/tests/fuzz/js/engine/fuzz.js <harness> [corpus_dir...] [-flag=value...]
 *   node dist/tests/fuzz/js/engine/fuzz.js <harness> <file...>      (replay each file once)
 *
 * Flags (libFuzzer's names): -max_total_time (s, default 60), -timeout
 * (s per input, 10), -rss_limit_mb (2048; also the worker's heap limit),
 * -max_len (4096), -runs (0 = unlimited), -seed (0 = random),
 * -artifact_prefix (where findings go, default ./), -coverage_out (a JSON
 * file for the coverage report).
 *
 * This thread only supervises: the loop (loop.ts) runs in a worker thread
 * and shows it, through shared memory, the input it is running. When an
 * input runs past -timeout, or the process grows past -rss_limit_mb, or the
 * worker's heap runs out, the supervisor saves that input
 * (timeout-/oom-<sha1>), says so, and ends with status 70 (timeout) or 71
 * (out-of-memory); a crash found by the loop ends it with 77; a run that
 * ends by its budget, with 0.
 */
import { createHash } from 'node:crypto';
import { statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { JS_TARGETS, packageRoot, type JsHarnessName } from '../../paths.js';
import { HEADER_BYTES, SLOT_LENGTH, SLOT_RUNNING, SLOT_SEQ, type EngineOptions } from './shared.js';

export const EXIT_CRASH = 77;
export const EXIT_TIMEOUT = 70;
export const EXIT_OOM = 71;
const EXIT_USAGE = 2;

const print = (line: string): void => {
  writeSync(2, `${line}\n`);
};

function usage(message: string): never {
  print(`jsfuzz: ${message}`);
  print(`usage: jsfuzz <harness> [corpus_dir... | file...] [-max_total_time=S] [-timeout=S] [-rss_limit_mb=M] [-max_len=N] [-runs=N] [-seed=N] [-artifact_prefix=P] [-coverage_out=F]`);
  print(`harnesses: ${Object.keys(JS_TARGETS).join(', ')}`);
  process.exit(EXIT_USAGE);
}

export function parseArgs(argv: readonly string[]): EngineOptions {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (const arg of argv) {
    const m = /^-([a-z_]+)=(.*)$/.exec(arg);
    if (m) flags.set(m[1] ?? '', m[2] ?? '');
    else if (arg.startsWith('-')) usage(`unknown argument ${arg}`);
    else positional.push(arg);
  }
  const known = ['max_total_time', 'timeout', 'rss_limit_mb', 'max_len', 'runs', 'seed', 'artifact_prefix', 'coverage_out', 'print_final_stats'];
  for (const key of flags.keys()) if (!known.includes(key)) usage(`unknown flag -${key}`);
  const int = (key: string, fallback: number, min: number): number => {
    const text = flags.get(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) usage(`-${key} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const [harness, ...inputs] = positional;
  if (harness === undefined) usage('no harness named');
  if (!Object.hasOwn(JS_TARGETS, harness)) usage(`unknown harness ${JSON.stringify(harness)}`);
  const isFile = (p: string): boolean => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const replay = inputs.length > 0 && inputs.every(isFile);
  const seed = int('seed', 0, 0);
  return {
    harness,
    inputs,
    replay,
    maxTotalTime: int('max_total_time', 60, 1),
    timeout: int('timeout', 10, 1),
    rssLimitMb: int('rss_limit_mb', 2048, 64),
    maxLen: int('max_len', 4096, 1),
    runs: int('runs', 0, 0),
    seed: seed !== 0 ? seed : 1 + Math.floor(Math.random() * 0x7ffffffe),
    artifactPrefix: flags.get('artifact_prefix') ?? './',
    coverageOut: flags.get('coverage_out') ?? '',
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const target = JS_TARGETS[options.harness as JsHarnessName];
  const shared = new SharedArrayBuffer(HEADER_BYTES + options.maxLen);
  const slots = new Int32Array(shared, 0, HEADER_BYTES / 4);
  const here = fileURLToPath(new URL('.', import.meta.url));
  const worker = new Worker(join(here, 'loop.js'), {
    workerData: {
      options,
      shared,
      harnessPath: join(here, '..', `${options.harness}.js`),
      include: target.instrument.map((prefix) => join(root, prefix)),
      root,
    },
    // The JS heap limit is the memory limit: past it the worker ends with
    // ERR_WORKER_OUT_OF_MEMORY instead of taking the process down.
    resourceLimits: { maxOldGenerationSizeMb: options.rssLimitMb },
    stdout: false,
    stderr: false,
  });

  /** Saves the input the loop is running as <prefix><kind>-<sha1>. */
  const saveCurrent = (kind: string): void => {
    if (Atomics.load(slots, SLOT_RUNNING) !== 1) {
      print('jsfuzz: no input was running (the finding happened outside the target)');
      return;
    }
    const length = Atomics.load(slots, SLOT_LENGTH);
    const data = Buffer.from(new Uint8Array(shared, HEADER_BYTES, length));
    const path = `${options.artifactPrefix}${kind}-${createHash('sha1').update(data).digest('hex')}`;
    writeFileSync(path, data);
    print(`artifact_prefix='${options.artifactPrefix}'; Test unit written to ${path}`);
    print(`Base64: ${data.toString('base64')}`);
  };

  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      clearInterval(watch);
      resolve(code);
    };
    let lastSeq = -1;
    let lastChange = Date.now();
    const watch = setInterval(() => {
      const seq = Atomics.load(slots, SLOT_SEQ);
      const now = Date.now();
      if (seq !== lastSeq) {
        lastSeq = seq;
        lastChange = now;
      }
      const stuck = (now - lastChange) / 1000;
      if (Atomics.load(slots, SLOT_RUNNING) === 1 && stuck > options.timeout) {
        print(`ALARM: working on the last Unit for ${Math.round(stuck)} seconds`);
        print(`       and the timeout value is ${options.timeout} (use -timeout=N to change)`);
        saveCurrent('timeout');
        print(`==${process.pid}== ERROR: jsfuzz: timeout after ${Math.round(stuck)} seconds`);
        print('SUMMARY: jsfuzz: timeout');
        finish(EXIT_TIMEOUT);
        void worker.terminate();
        return;
      }
      const rss = process.memoryUsage.rss() / (1024 * 1024);
      if (rss > options.rssLimitMb) {
        print(`==${process.pid}== ERROR: jsfuzz: out-of-memory (used: ${Math.round(rss)}Mb; exceeds: ${options.rssLimitMb}Mb)`);
        saveCurrent('oom');
        print('SUMMARY: jsfuzz: out-of-memory');
        finish(EXIT_OOM);
        void worker.terminate();
      }
    }, 100);
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        print(`==${process.pid}== ERROR: jsfuzz: out-of-memory (the JS heap reached -rss_limit_mb=${options.rssLimitMb})`);
        saveCurrent('oom');
        print('SUMMARY: jsfuzz: out-of-memory');
        finish(EXIT_OOM);
        return;
      }
      // Thrown outside `fuzz`'s call (an unhandled rejection the target left
      // behind, a failing import): still a crash, with the input if one ran.
      print(`==${process.pid}== ERROR: jsfuzz: uncaught exception outside the target call: ${err.stack ?? String(err)}`);
      saveCurrent('crash');
      print(`SUMMARY: jsfuzz: uncaught exception: ${err.name}: ${err.message.split('\n')[0] ?? ''}`);
      finish(EXIT_CRASH);
    });
    worker.on('exit', (code) => finish(code === 0 ? 0 : code === EXIT_CRASH ? EXIT_CRASH : code));
  });
}

process.exitCode = await main();
