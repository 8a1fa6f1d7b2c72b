/**
 * `mcrctl top [--interval MS] [--sort pps|errors|name] [--count N]`: polls
 * mcrd every interval (stats, the rule list and the workers, on one
 * connection) and shows the result (top-model.ts computes it,
 * top-render.ts lays it out).
 *
 * On a terminal (stdin and stdout both TTYs) it is a full-screen view
 * (top-terminal.ts): `q` or Ctrl-C quits, `s` cycles the sort key, and the
 * terminal is restored however top ends. When mcrd stops answering, the
 * screen says so on its second line, keeps the last figures below, and top
 * keeps trying to reconnect every interval: an operator watching a restart
 * wants the view back when mcrd is. Otherwise (a pipe, a file, a script)
 * it prints one plain snapshot per interval, separated by a blank line,
 * with no escape codes, and a failure to reach mcrd ends it with status 1
 * and the error's code, as every other command: a script must notice.
 * --count N stops after N snapshots (or frames), status 0.
 */
import { performance } from 'node:perf_hooks';
import { Option, type Command } from 'commander';
import { ControlClient } from '../../common/control-client.js';
import { errorCode } from '../../common/control-errors.js';
import { buildView, SORT_KEYS, type SortKey, type TopSample, type TopView } from './top-model.js';
import { renderTop } from './top-render.js';
import { Screen, type TerminalStreams } from './top-terminal.js';

export interface TopFlags {
  interval: number;
  sort: SortKey;
  count?: number;
}

export interface TopIo {
  stdout(text: string): void;
  /** Aborting ends top with status 0 (SIGINT, SIGTERM). */
  signal?: AbortSignal;
  /** Set when stdin and stdout are a terminal: full-screen view; otherwise plain snapshots. */
  terminal?: TerminalStreams;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export interface TopConnection {
  socket: string;
  timeoutMs?: number;
}

export const DEFAULT_TOP_INTERVAL_MS = 1000;

/** One sample: the three answers, and when they arrived. */
async function poll(client: ControlClient, now: () => number): Promise<TopSample> {
  const [stats, list, workers] = await Promise.all([
    client.requestWhole('stats'), client.requestWhole('listRules'), client.request({ kind: 'workers' }),
  ]);
  return { atMs: performance.now(), wallMs: now(), stats, rules: list.rules, workers: workers.workers };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runTop(flags: TopFlags, io: TopIo, at: TopConnection): Promise<void> {
  const now = io.now ?? Date.now;
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  io.signal?.addEventListener('abort', abort, { once: true });
  if (io.signal?.aborted === true) stop.abort();
  let sort = flags.sort;
  let view: TopView | undefined;
  let error: string | undefined;
  const screen = io.terminal !== undefined ? new Screen(io.terminal, (key) => {
    if (key === 'q' || key === 'Q' || key === '\x03') stop.abort();
    else if (key === 's' || key === 'S') {
      sort = SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length] ?? 'pps';
      draw();
    }
  }) : undefined;
  const draw = (): void => {
    const options = { sort, intervalMs: flags.interval, nowMs: now(), ...(error !== undefined ? { error } : {}) };
    if (screen !== undefined) screen.draw(renderTop(view, { ...options, width: screen.width, height: screen.height, keys: true }));
    else io.stdout(renderTop(view, options).join('\n') + '\n\n');
  };
  let client: ControlClient | undefined;
  // Quitting does not wait for an answer that may not come (an mcrd that
  // accepts but does not answer): the requests in flight fail at once.
  stop.signal.addEventListener('abort', () => void client?.close(), { once: true });
  let prev: TopSample | undefined;
  let frames = 0;
  screen?.enter();
  try {
    while (!stop.signal.aborted) {
      try {
        if (client === undefined) {
          const c = new ControlClient(at.timeoutMs !== undefined ? { connectTimeoutMs: at.timeoutMs, requestTimeoutMs: at.timeoutMs } : {});
          client = c;
          await c.connect(at.socket);
        }
        const sample = await poll(client, now);
        view = buildView(prev, sample);
        prev = sample;
        error = undefined;
      } catch (err) {
        if (stop.signal.aborted) break;
        if (screen === undefined) throw err;
        const message = err instanceof Error ? err.message : String(err);
        error = `${errorCode(err) ?? 'ERR_MCR_INTERNAL'}: ${message}; retrying every ${(flags.interval / 1000).toFixed(1)} s (q quits)`;
        void client?.close();
        client = undefined;
        // Rates start again from the next sample that arrives.
        prev = undefined;
      }
      draw();
      frames++;
      if (flags.count !== undefined && frames >= flags.count) break;
      await sleep(flags.interval, stop.signal);
    }
  } finally {
    screen?.restore();
    io.signal?.removeEventListener('abort', abort);
    await client?.close();
  }
}

/** Options of the command, attached by commands.ts. */
export function topOptions(cmd: Command, integer: (min: number, max: number) => (v: string) => number): Command {
  return cmd
    .description('live view of rates, errors and stream state per rule and output (full screen on a terminal, snapshots otherwise)')
    .option('--interval <ms>', `refresh every ms milliseconds (default ${DEFAULT_TOP_INTERVAL_MS})`, integer(100, 3_600_000), DEFAULT_TOP_INTERVAL_MS)
    .addOption(new Option('--sort <key>', 'order rules by pps (highest first), errors (most first) or name').choices(SORT_KEYS).default('pps'))
    .option('--count <n>', 'stop after n snapshots (for scripts and tests; default: until q or Ctrl-C)', integer(1, 0xffffffff));
}
