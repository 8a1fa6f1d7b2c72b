/**
 * The typed client of mcrd's control socket, used by mcrctl: one Unix
 * socket connection carrying any number of concurrent requests, each
 * numbered and matched to its answer by id, each with its own timeout.
 *
 * request() resolves with the result of the request's own kind (the type
 * follows from `kind`) and rejects with a ControlError carrying mcrd's code
 * and message when mcrd answers with an error. requestWhole() asks for a
 * rule list or the stats in parts and returns them merged (any length).
 * stream() is for logs and events with follow: it yields every batch until
 * mcrd ends the stream. Failures to
 * reach mcrd say what to do ("mcrd is not running ... start it"), telling a
 * missing socket file (ENOENT) from a stale one nobody listens on
 * (ECONNREFUSED).
 */
import { createConnection, type Socket } from 'node:net';
import { decodeResponse, encodeRequest } from '../proto/control.js';
import type { RequestDraft, RequestKind, Response, ResultBody } from '../proto/types.js';
import { WireError } from '../proto/errors.js';
import { encodeFrame, FrameDecoder } from '../proto/framing.js';
import { ControlError, errorCode } from './control-errors.js';
import { mergeAnswer, MAX_ANSWER_FRAME_BYTES, type PartedAnswer, type PartedKind } from './answer-parts.js';
import { isMutating, MUTATION_NO_ANSWER_ADVICE } from './mutating-requests.js';

export interface ControlClientOptions {
  /** Give up connecting after this long. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Default per-request timeout. 15 000 by default: longer than mcrd's own
   * 10 s request timeout, so mcrd's more precise ETIMEDOUT arrives first.
   * mcrd's covers its handler; the parts of a requestWhole answer go out
   * after it, so only this one bounds them (a 20 MB list takes well under
   * a second on one host).
   */
  requestTimeoutMs?: number;
  /** Largest answer frame accepted; larger than mcrd's request limit since rule lists can be long. Default MAX_ANSWER_FRAME_BYTES (16 MiB), the most mcrd sends in one frame. */
  maxFrameBytes?: number;
}

export interface RequestOptions {
  /** Overrides the client's requestTimeoutMs; for a stream, bounds only the first answer. */
  timeoutMs?: number;
}

/** The result type answering a request body B. */
export type ResultFor<B extends RequestDraft> = ResultBody<B['kind']>;

interface Pending {
  onResponse(response: Response): void;
  onFail(err: Error): void;
}

export class ControlClient {
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private socket: Socket | null = null;
  private path = '';
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;
  // Set once the connection is unusable; later requests fail with it at once.
  private failure: Error | null = null;

  constructor(options: ControlClientOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.maxFrameBytes = options.maxFrameBytes ?? MAX_ANSWER_FRAME_BYTES;
  }

  get connected(): boolean {
    return this.socket !== null && this.failure === null;
  }

  /** Connects to mcrd's socket at path. */
  connect(path: string): Promise<void> {
    if (this.socket) return Promise.reject(new ControlError('ERR_MCR_BAD_STATE', 'this ControlClient is already connected: create one per connection'));
    this.path = path;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ControlError('ETIMEDOUT', `mcrd did not accept a connection on ${path} within ${this.connectTimeoutMs / 1000} s: it may be overloaded or hung; check its log`,
          { ownDeadline: true }));
      }, this.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(connectError(err, path));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        this.attach(socket);
        resolve();
      });
    });
  }

  /** Sends one request and resolves with its result (of the same kind). */
  request<B extends RequestDraft>(body: B, options: RequestOptions = {}): Promise<ResultFor<B>> {
    return this.exchange(body, options, (response) => resultOf<B['kind']>(response, body.kind));
  }

  /**
   * Asks for a rule list or the stats in parts (common/answer-parts.ts) and
   * resolves with the whole answer: no size limit but mcrd's, and no
   * answer left unread long enough for mcrd to drop the connection. The
   * timeout covers all parts. An mcrd that does not know parts answers in
   * one piece, which reads the same.
   */
  requestWhole<K extends PartedKind>(kind: K, options: RequestOptions = {}): Promise<ResultBody<K>> {
    const parts: PartedAnswer[] = [];
    return this.exchange({ kind, parts: true }, options, (response) => {
      parts.push(resultOf<PartedKind>(response, kind));
      // Every part was checked to be of kind K.
      return response.more ? undefined : mergeAnswer(parts) as unknown as ResultBody<K>;
    });
  }

  /**
   * Sends `body` and feeds each Response with its id to `take` until it
   * returns a value (resolved) or throws (rejected); one timer for all.
   */
  private exchange<T>(body: RequestDraft, options: RequestOptions, take: (response: Response) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      let id = 0;
      let timer: NodeJS.Timeout | undefined;
      try {
        id = this.send(body, {
          onResponse: (response) => {
            let value: T | undefined;
            try {
              value = take(response);
            } catch (err) {
              this.forget(id, timer);
              reject(err);
              return;
            }
            if (value === undefined) return;
            this.forget(id, timer);
            resolve(value);
          },
          onFail: (err) => {
            this.forget(id, timer);
            reject(err);
          },
        });
      } catch (err) {
        reject(err);
        return;
      }
      timer = setTimeout(() => {
        this.forget(id, timer);
        reject(timeoutError(body.kind, timeoutMs));
      }, timeoutMs);
    });
  }

  /**
   * Sends a streaming request (logs with follow) and yields each batch until
   * mcrd sends the last one. Leaving the loop early stops listening; mcrd
   * stops sending when this client closes.
   */
  async *stream<B extends RequestDraft>(body: B, options: RequestOptions = {}): AsyncGenerator<ResultFor<B>, void, undefined> {
    const state: { queue: Response[]; failure: Error | null; wake: (() => void) | null } = { queue: [], failure: null, wake: null };
    const id = this.send(body, {
      onResponse: (response) => {
        state.queue.push(response);
        state.wake?.();
      },
      onFail: (err) => {
        state.failure = err;
        state.wake?.();
      },
    });
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      state.failure = timeoutError(body.kind, timeoutMs);
      state.wake?.();
    }, timeoutMs);
    try {
      for (;;) {
        while (state.queue.length === 0 && state.failure === null) {
          await new Promise<void>((resolve) => (state.wake = resolve));
          state.wake = null;
        }
        const response = state.queue.shift();
        if (!response) throw state.failure ?? new ControlError('ERR_MCR_DISCONNECTED', 'stream ended');
        clearTimeout(timer);
        timer = undefined;
        yield resultOf<B['kind']>(response, body.kind);
        if (!response.more) return;
      }
    } finally {
      this.forget(id, timer);
    }
  }

  /** Closes the connection; requests still waiting fail with ERR_MCR_DISCONNECTED. */
  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.fail(new ControlError('ERR_MCR_DISCONNECTED', 'the control connection was closed by this client'));
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    const decoder = new FrameDecoder({ maxFrameBytes: this.maxFrameBytes });
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        const declared = decoder.oversizeBytes;
        // Only an mcrd that does not send answers in parts (an older one) gets here with a long rule list.
        this.fail(declared === undefined ? err as Error : new ControlError('E2BIG',
          `mcrd sent an answer of ${declared} bytes, more than this client takes in one frame (${this.maxFrameBytes}): ` +
          'mcrd does not send long answers in parts; upgrade mcrd to the version of this mcrctl', { cause: err }));
        socket.destroy();
        return;
      }
      for (const frame of frames) this.dispatch(frame);
    });
    socket.on('error', (err) => {
      this.fail(new ControlError(errorCode(err) ?? 'ERR_MCR_DISCONNECTED', `lost the connection to mcrd at ${this.path}: ${err.message}; check that mcrd is running (mcrctl ping)`, { cause: err }));
    });
    socket.on('close', () => {
      this.fail(new ControlError('ERR_MCR_DISCONNECTED', `mcrd closed the control connection at ${this.path}: it may have stopped or restarted; check with mcrctl ping`));
    });
  }

  private dispatch(frame: Buffer): void {
    let response: Response;
    try {
      response = decodeResponse(frame);
    } catch (err) {
      if (err instanceof WireError && err.code === 'ERR_MCR_UNKNOWN_KIND' && err.messageId) {
        this.pending.get(err.messageId)?.onFail(new ControlError('ERR_MCR_BAD_RESPONSE', err.message));
        return;
      }
      this.fail(err as Error);
      this.socket?.destroy();
      return;
    }
    if (response.id === 0) {
      // About the connection itself (bad frame, idle): every request is affected.
      const body = response.body;
      const err = body.kind === 'error'
        ? new ControlError(body.code, body.message)
        : new ControlError('ERR_MCR_BAD_RESPONSE', 'mcrd sent a result without a request id: mcrctl and mcrd versions differ; use matching versions');
      this.fail(err);
      return;
    }
    this.pending.get(response.id)?.onResponse(response);
  }

  /** Registers and writes a request; returns its id. Throws when it cannot be sent. */
  private send(body: RequestDraft, pending: Pending): number {
    if (this.failure) throw this.failure;
    if (!this.socket) throw new ControlError('ERR_MCR_NOT_CONNECTED', 'not connected to mcrd: call connect() first');
    const id = this.nextId();
    const bytes = encodeFrame(encodeRequest({ id, body }));
    this.pending.set(id, pending);
    this.socket.write(bytes);
    return id;
  }

  private nextId(): number {
    // uint32 ids, 0 reserved; skip any still pending after a wrap-around.
    do {
      this.lastId = this.lastId >= 0xffffffff ? 1 : this.lastId + 1;
    } while (this.pending.has(this.lastId));
    return this.lastId;
  }

  private forget(id: number, timer: NodeJS.Timeout | undefined): void {
    if (timer) clearTimeout(timer);
    if (id !== 0) this.pending.delete(id);
  }

  /** Marks the connection unusable and fails everything waiting on it. */
  private fail(err: Error): void {
    // The first reason is the real one (e.g. mcrd's "idle" error before the close).
    this.failure ??= err;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.onFail(this.failure);
  }
}

/** The result in a response to a request of `kind`, or the error it carries. */
function resultOf<K extends RequestKind>(response: Response, kind: K): ResultBody<K> {
  const body = response.body;
  if (body.kind === 'error') throw new ControlError(body.code, body.message);
  if (body.kind !== kind) {
    throw new ControlError('ERR_MCR_BAD_RESPONSE', `mcrd answered ${kind} with ${body.kind}: mcrctl and mcrd versions differ; use matching versions`);
  }
  // Checked just above: the body's kind is K.
  return body as unknown as ResultBody<K>;
}

function timeoutError(kind: string, ms: number): ControlError {
  const advice = isMutating(kind) ? `${MUTATION_NO_ANSWER_ADVICE}; ` : '';
  return new ControlError('ETIMEDOUT', `no answer from mcrd to ${kind} within ${ms / 1000} s: ${advice}check that it is healthy (mcrctl ping) and look at its log`,
    { ownDeadline: true });
}

function connectError(err: Error, path: string): ControlError {
  const code = errorCode(err) ?? 'EIO';
  if (code === 'ENOENT') {
    return new ControlError(code, `mcrd is not running (no socket at ${path}): start it (\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`), or pass --socket`, { cause: err });
  }
  if (code === 'ECONNREFUSED') {
    // The file is there but nothing listens on it: an mcrd that was killed
    // (SIGKILL, a crash) and could not remove it. Saying "no socket" here
    // would send the user looking for a file that exists.
    return new ControlError(code, `${path} is a stale socket file: nobody is listening on it, so mcrd is not running; start it (\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`; it replaces the file), or remove the file, or pass --socket`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ControlError(code, `permission denied on ${path}: run as root or as a member of the socket's group`, { cause: err });
  }
  return new ControlError(code, `cannot connect to mcrd at ${path}: ${err.message}; check --socket and that mcrd is running`, { cause: err });
}
