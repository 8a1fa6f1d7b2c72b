/**
 * Abusive clients of mcrd's control socket, one kind per process, for
 * bench/control-abuse.ts and tests/integration/serial/mcrd-control-abuse.test.ts.
 * They run in a process of their own so that their work (hundreds of
 * sockets, reconnect loops) does not share an event loop with the
 * well-behaved client whose answer times are measured.
 *
 * Kinds (each with `--clients N` clients, reconnecting when mcrd closes them):
 * - concurrent: each client sends ping, listRules, stats, workers in turn,
 *   the next as soon as the previous is answered;
 * - slowloris: one byte per second; even clients trickle ping requests
 *   (5 bytes, so one completes every 5 s), odd ones a frame declaring
 *   4096 bytes that would take over an hour to finish;
 * - oversized: a length prefix twice mcrd's request frame limit (64 KiB),
 *   or a whole frame of exactly the limit holding garbage, in turn;
 * - garbage: a valid length prefix before bytes that do not decode, a length
 *   prefix that is not a varint (6 bytes with the continuation bit), or an
 *   empty frame, in turn;
 * - unread: listRules requests, 32 at a time every 100 ms, never reading
 *   the answers;
 * - reload: `--configs A,B`: copies A, then B, then A... over `--config` and
 *   sends reload after each copy, one reload at a time per client.
 *
 * `node dist/bench/control-abusers.js --kind K --socket PATH [--clients N]
 * [--seconds S]` runs until S seconds have passed or SIGTERM/SIGINT, writes
 * `{"event":"ready"}` on stderr once every client is under way (runAbuse),
 * and one JSON AbuseReport line on stdout at the end.
 */
import { copyFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeResponse, encodeRequest } from '../proto/control.js';
import type { RequestDraft, Response } from '../proto/types.js';
import { encodeFrame, encodeVarint, FrameDecoder } from '../proto/framing.js';
import { errorCode } from '../common/control-errors.js';
import { DEFAULT_MAX_REQUEST_BYTES } from '../supervisor/control/server.js';

export const ABUSE_KINDS = ['concurrent', 'slowloris', 'oversized', 'garbage', 'unread', 'reload'] as const;
export type AbuseKind = (typeof ABUSE_KINDS)[number];

export interface AbuseOptions {
  socket: string;
  clients: number;
  /** reload only: the config files to alternate, and the file mcrd reads. */
  configs?: string[];
  config?: string;
}

export interface AbuseReport {
  kind: AbuseKind;
  clients: number;
  seconds: number;
  /** Connections made. */
  connections: number;
  /** Connect failures by code. */
  connectErrors: Record<string, number>;
  /** Whole requests (or abusive frames) written. */
  requests: number;
  /** Answers received, by result kind or error code. */
  answers: Record<string, number>;
  /** Connections mcrd closed (the abuser did not close them first). */
  closedByServer: number;
  /** Connections closed by mcrd after a bad frame, without ERR_MCR_BAD_FRAME having been received first. */
  closedWithoutBadFrameAnswer: number;
  bytesWritten: number;
}

/** Largest request frame mcrd takes by default. */
const MAX_FRAME = DEFAULT_MAX_REQUEST_BYTES;
/** Pause after a failed connect, so that a refused abuser does not spin. */
const RETRY_MS = 20;

class Tally {
  connections = 0;
  requests = 0;
  closedByServer = 0;
  closedWithoutBadFrameAnswer = 0;
  bytesWritten = 0;
  readonly connectErrors: Record<string, number> = {};
  readonly answers: Record<string, number> = {};

  count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }
}

/** One raw connection: writes what it is told, decodes what it is sent. */
class Conn {
  closed = false;
  private closedByUs = false;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  private waiting: ((r: Response | null) => void) | null = null;
  private readonly inbox: Response[] = [];
  readonly gone: Promise<void>;

  private constructor(readonly socket: Socket, readonly tally: Tally) {
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const r = decodeResponse(frame);
        tally.count(tally.answers, r.body.kind === 'error' ? r.body.code : r.body.kind);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(r);
        } else {
          this.inbox.push(r);
        }
      }
    });
    socket.on('error', () => undefined);
    this.gone = new Promise((resolve) => socket.on('close', () => {
      this.closed = true;
      if (!this.closedByUs) tally.closedByServer++;
      this.waiting?.(null);
      this.waiting = null;
      resolve();
    }));
  }

  static open(path: string, tally: Tally): Promise<Conn | null> {
    return new Promise((resolve) => {
      const socket = createConnection({ path });
      socket.once('error', (err) => {
        tally.count(tally.connectErrors, errorCode(err) ?? 'EIO');
        socket.destroy();
        resolve(null);
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        tally.connections++;
        resolve(new Conn(socket, tally));
      });
    });
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.tally.bytesWritten += bytes.byteLength;
    this.socket.write(bytes);
  }

  request(id: number, body: RequestDraft): void {
    this.tally.requests++;
    this.write(encodeFrame(encodeRequest({ id, body })));
  }

  /** The next answer, or null once the connection is closed. */
  next(): Promise<Response | null> {
    const r = this.inbox.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closedByUs = true;
    this.socket.destroy();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `conn` closes or `signal` aborts. */
function closedOrStopped(conn: Conn, signal: AbortSignal): Promise<void> {
  return Promise.race([conn.gone, new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  })]);
}

/** One abusive client on one connection; calls `started` once it is abusing (for concurrent: once answered, past the connection burst). */
type Client = (n: number, conn: Conn, signal: AbortSignal, started: () => void) => Promise<void>;

const CYCLE: RequestDraft[] = [{ kind: 'ping' }, { kind: 'listRules' }, { kind: 'stats' }, { kind: 'workers' }];

const clients: Record<Exclude<AbuseKind, 'reload'>, Client> = {
  async concurrent(n, conn, signal, started) {
    for (let id = 1; !signal.aborted && !conn.closed; id++) {
      conn.request(id, CYCLE[(n + id) % CYCLE.length] as RequestDraft);
      if ((await conn.next()) === null) return;
      started();
    }
  },
  async slowloris(n, conn, signal, started) {
    started();
    let id = 0;
    while (!signal.aborted && !conn.closed) {
      // Odd clients: a frame declaring 4096 bytes, trickled (never finished in practice).
      const frame = n % 2 === 0 ? Buffer.from(encodeFrame(encodeRequest({ id: ++id, body: { kind: 'ping' } }))) : Buffer.concat([encodeVarint(4096), Buffer.alloc(4096, 0x08)]);
      for (let i = 0; i < frame.length && !signal.aborted && !conn.closed; i++) {
        conn.write(frame.subarray(i, i + 1));
        await sleep(1000, signal);
      }
    }
  },
  async oversized(n, conn, signal, started) {
    started();
    const big = n % 2 === 0;
    // A whole frame of the limit: 1 MiB of 0xff is a field tag that never ends.
    conn.write(big ? Buffer.concat([encodeVarint(MAX_FRAME), Buffer.alloc(MAX_FRAME, 0xff)]) : Buffer.concat([encodeVarint(2 * MAX_FRAME), Buffer.alloc(4096)]));
    conn.tally.requests++;
    await badFrameAnswer(conn, signal);
  },
  async garbage(n, conn, signal, started) {
    started();
    const variant = n % 3;
    const body = Buffer.alloc(64, 0xff);
    conn.write(variant === 0 ? encodeFrame(body) : variant === 1 ? Buffer.alloc(6, 0xff) : Buffer.from([0x00]));
    conn.tally.requests++;
    await badFrameAnswer(conn, signal);
  },
  async unread(_n, conn, signal, started) {
    started();
    conn.socket.pause();
    // A paused socket does not notice that mcrd closed it; a write does (EPIPE).
    for (let id = 1; !signal.aborted && !conn.closed; id++) {
      conn.request(id, { kind: 'listRules' });
      if (id % 32 === 0) await sleep(100, signal);
    }
  },
};

/** Waits for mcrd to close a connection that sent a bad frame; counts a close without ERR_MCR_BAD_FRAME. */
async function badFrameAnswer(conn: Conn, signal: AbortSignal): Promise<void> {
  const first = await Promise.race([conn.next(), closedOrStopped(conn, signal).then(() => null)]);
  await closedOrStopped(conn, signal);
  if (signal.aborted && !conn.closed) return;
  if (first === null || first.body.kind !== 'error' || first.body.code !== 'ERR_MCR_BAD_FRAME') conn.tally.closedWithoutBadFrameAnswer++;
}

/**
 * Runs `kind` until `signal` aborts. `onReady` is called once every client
 * is under way: has made its first connection attempt and, for concurrent,
 * been answered once (200 clients connecting at once are served in arrival
 * order; what is measured is the abuse that follows).
 */
export async function runAbuse(kind: AbuseKind, opts: AbuseOptions, signal: AbortSignal, onReady: () => void = () => undefined): Promise<AbuseReport> {
  const tally = new Tally();
  const started = performance.now();
  let pendingFirst = opts.clients;
  const firstDone = (): void => {
    if (--pendingFirst === 0) onReady();
  };
  const loop = async (n: number): Promise<void> => {
    let first = true;
    const started = (): void => {
      if (!first) return;
      first = false;
      firstDone();
    };
    while (!signal.aborted) {
      const conn = await Conn.open(opts.socket, tally);
      if (conn === null) {
        started();
        await sleep(RETRY_MS, signal);
        continue;
      }
      try {
        if (kind === 'reload') {
          started();
          await reloadClient(conn, opts, signal);
        } else {
          await clients[kind](n, conn, signal, started);
        }
      } finally {
        started();
        conn.close();
      }
      // An evicted slowloris comes back at its pace, not at once.
      if (kind === 'slowloris') await sleep(1000, signal);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, n) => loop(n)));
  return {
    kind, clients: opts.clients, seconds: (performance.now() - started) / 1000, connections: tally.connections,
    connectErrors: tally.connectErrors, requests: tally.requests, answers: tally.answers, closedByServer: tally.closedByServer,
    closedWithoutBadFrameAnswer: tally.closedWithoutBadFrameAnswer, bytesWritten: tally.bytesWritten,
  };
}

let reloads = 0;
async function reloadClient(conn: Conn, opts: AbuseOptions, signal: AbortSignal): Promise<void> {
  const files = opts.configs ?? [];
  if (files.length === 0 || opts.config === undefined) throw new Error('reload needs --configs A,B and --config PATH');
  for (let id = 1; !signal.aborted && !conn.closed; id++) {
    copyFileSync(files[reloads++ % files.length] as string, opts.config);
    conn.request(id, { kind: 'reload' });
    if ((await conn.next()) === null) return;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' }, socket: { type: 'string' }, clients: { type: 'string', default: '1' },
      seconds: { type: 'string' }, configs: { type: 'string' }, config: { type: 'string' },
    },
  });
  const kind = values.kind as AbuseKind;
  if (!ABUSE_KINDS.includes(kind) || values.socket === undefined) {
    process.stderr.write(`usage: control-abusers --kind ${ABUSE_KINDS.join('|')} --socket PATH [--clients N] [--seconds S] [--configs A,B --config PATH]\n`);
    process.exit(2);
  }
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort());
  if (values.seconds !== undefined) setTimeout(() => stop.abort(), Number(values.seconds) * 1000).unref();
  const report = await runAbuse(kind, {
    socket: values.socket, clients: Number(values.clients),
    ...(values.configs !== undefined ? { configs: values.configs.split(',') } : {}),
    ...(values.config !== undefined ? { config: values.config } : {}),
  }, stop.signal, () => process.stderr.write(JSON.stringify({ event: 'ready' }) + '\n'));
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`control-abusers: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
