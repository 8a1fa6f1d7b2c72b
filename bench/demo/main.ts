/**
 * `npm run demo` (through launch.cjs): checks it can run, then runs the
 * demo scenario (run.ts) and always tears it down: at the end, on any
 * error, and on SIGINT/SIGTERM (Ctrl-C). Failures are one line on stderr,
 * `demo: CODE: what is wrong: what to do`, and exit 1; a usage error exits 2;
 * an interrupted demo exits 128 + the signal number once cleaned up.
 *
 *   npm run demo -- [--duration SEC] [--rate PPS]
 */
import { join } from 'node:path';
import { constants } from 'node:os';
import { Command, CommanderError } from 'commander';
import { intOption } from '../cli-int.js';
import { packageRoot } from '../../native/package-root.js';
import { DemoError, describe } from './errors.js';
import { checkBuilt, checkRoot } from './preflight.js';
import { Demo } from './run.js';

/** Seconds between two stats tables. */
const INTERVAL_SEC = 2;


function parse(argv: string[]): { duration: number; rate: number } {
  const program = new Command('demo')
    .description('Run mcrd in a throw-away network-namespace lab with traffic, show its stats, then remove everything. Needs root.')
    .option('--duration <sec>', `how long traffic runs, in seconds (stats every ${INTERVAL_SEC} s)`, intOption(INTERVAL_SEC, 3600), 20)
    .option('--rate <pps>', 'packets per second of each stream', intOption(1, 100_000), 1000)
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      process.stderr.write(`demo: ERR_MCR_DEMO_USAGE: ${err.message.replace(/^error: /, '')} (see npm run demo -- --help)\n`);
      process.exit(2);
    }
    throw err;
  }
  return program.opts<{ duration: number; rate: number }>();
}

async function main(): Promise<number> {
  const opts = parse(process.argv.slice(2));
  const root = packageRoot();
  try {
    checkRoot();
    checkBuilt(root);
  } catch (err) {
    process.stderr.write(`demo: ${describe(err)}\n`);
    return 1;
  }
  const out = (text: string): void => void process.stdout.write(text);
  const demo = new Demo({ root, configFile: join(root, 'docs', 'demo.json5'), durationSec: opts.duration, rate: opts.rate,
    intervalSec: INTERVAL_SEC, out });
  // Signal handlers cannot wait for a graceful stop: kill by PID and delete
  // the namespaces synchronously, then exit as the signal would have.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      demo.destroySync();
      process.stderr.write(`demo: interrupted by ${signal}: stopped its processes, removed its namespaces and files\n`);
      process.exit(128 + constants.signals[signal]);
    });
  }
  let status = 0;
  try {
    await demo.run();
  } catch (err) {
    process.stderr.write(`demo: ${describe(err)}\n`);
    status = 1;
  }
  try {
    await demo.cleanup();
  } catch (err) {
    process.stderr.write(`demo: ${describe(err)}\n`);
    status = 1;
  }
  const { namespaces, tmp } = demo.where;
  out(`\nCleaned up: stopped every process it started, removed ${namespaces.length} namespaces${tmp !== undefined ? ` and ${tmp}` : ''}.\n`);
  return status;
}

process.exitCode = await main();
