/**
 * One client of the control socket, seen from mcrd: reassembles frames,
 * dispatches each request to the handler, answers with the request's id,
 * and protects mcrd and the other clients from this one.
 *
 * Nothing a client does can block others: every request runs as its own
 * promise, so a slow handler or a client that never reads delays only its
 * own answers. The costs a client can impose are bounded:
 * - a bad frame gets one Error response (id 0, ERR_MCR_BAD_FRAME) and the
 *   connection is closed, since the stream cannot be resynchronised;
 * - no complete request and nothing in flight for idleTimeoutMs: closed
 *   (this also cuts a client that trickles a frame it never finishes);
 * - a handler slower than requestTimeoutMs: answered ETIMEDOUT, its signal
 *   aborted, its late result dropped;
 * - more than maxInFlight requests at once: reading pauses until some finish
 *   (socket back-pressure instead of unbounded queues);
 * - more than maxPendingWriteBytes of unread answers: closed;
 * - idle (nothing in flight) when the server is full and another client
 *   connects: possibly evicted, the one idle longest first (server.ts).
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, FrameDecoder } from '../../proto/framing.js';
import { decodeRequest, encodeResponse } from '../../proto/control.js';
import type { LogsResult, Request, Response, ResponseBody } from '../../proto/types.js';
import { WireError } from '../../proto/errors.js';
import { ControlError, errorCode, toErrorInfo } from '../../common/control-errors.js';
import type { ControlHandler, ControlLogger, RequestContext } from './handler.js';

export interface ConnectionLimits {
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  maxInFlight: number;
  maxPendingWriteBytes: number;
  /** How long a closing connection may take to flush before it is destroyed. */
  closeGraceMs: number;
}

interface InFlight {
  controller: AbortController;
}

export class ControlConnection {
  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly idleTimer: NodeJS.Timeout;
  private closing = false;
  private destroyTimer: NodeJS.Timeout | null = null;
  // When the last whole request arrived or the last answer finished
  // (monotonic ms): the server evicts the client idle longest.
  private lastActiveMs = performance.now();

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly handler: ControlHandler,
    private readonly limits: ConnectionLimits,
    private readonly log: ControlLogger,
    onClose: (connection: ControlConnection) => void,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    this.idleTimer = setTimeout(() => this.onIdle(), limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // ECONNRESET, EPIPE: the client went away; 'close' follows and cleans up.
    socket.on('error', (err) => this.log.debug({ client: id, code: errorCode(err) }, 'control client socket error'));
    socket.on('close', () => {
      this.closing = true;
      clearTimeout(this.idleTimer);
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      this.abortAll('client disconnected');
      onClose(this);
    });
  }

  /**
   * Since when (monotonic ms, performance.now()) this client has had nothing
   * in flight, or undefined while it has (a request being handled, queued,
   * or a log stream open) or is closing: such a client is never evicted.
   */
  get idleSinceMs(): number | undefined {
    if (this.closing || this.inFlight.size > 0 || this.queue.length > 0) return undefined;
    return this.lastActiveMs;
  }

  /** True once the connection is being closed (it may still flush for closeGraceMs). */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Tells the client why on id 0, then closes it: the server needs its slot for a new client. */
  evict(message: string): void {
    if (this.closing) return;
    this.sendError(0, 'ERR_MCR_EVICTED', message);
    this.shutdown('evicted to make room for a new client');
  }

  /** Closes the connection: pending requests are aborted and get no answer. */
  shutdown(reason: string, immediately = false): void {
    if (immediately) {
      this.closing = true;
      this.socket.destroy();
      return;
    }
    if (this.closing) return;
    this.closing = true;
    this.log.debug({ client: this.id, reason }, 'closing control client');
    clearTimeout(this.idleTimer);
    this.abortAll(reason);
    this.queue.length = 0;
    // Keep reading (and discarding, see onData) so the client's EOF is seen
    // even if reading was paused for back-pressure.
    this.socket.resume();
    this.socket.end();
    // end() waits for the client to close its side; a client that never
    // does must not keep the socket (and its buffers) forever.
    this.destroyTimer = setTimeout(() => this.socket.destroy(), this.limits.closeGraceMs);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.badFrame(err);
      return;
    }
    // Only whole requests count as activity: a client trickling the bytes
    // of a frame it never finishes is as idle as a silent one.
    if (frames.length > 0) {
      this.idleTimer.refresh();
      this.lastActiveMs = performance.now();
    }
    for (const frame of frames) this.queue.push(frame);
    this.pump();
  }

  /** Starts queued requests while under maxInFlight; pauses reading otherwise. */
  private pump(): void {
    while (!this.closing && this.queue.length > 0 && this.inFlight.size < this.limits.maxInFlight) {
      this.handleFrame(this.queue.shift() as Buffer);
    }
    if (this.closing) return;
    if (this.queue.length > 0) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  private handleFrame(frame: Buffer): void {
    let request: Request;
    try {
      request = decodeRequest(frame);
    } catch (err) {
      if (err instanceof WireError && err.code === 'ERR_MCR_UNKNOWN_KIND' && err.messageId !== undefined && err.messageId !== 0) {
        // A well-formed request of a kind we do not know: answer it, keep the client.
        this.sendError(err.messageId, 'ERR_MCR_UNKNOWN_REQUEST', err.message);
      } else {
        this.badFrame(err);
      }
      return;
    }
    const { id } = request;
    if (id === 0) {
      this.sendError(0, 'ERR_MCR_BAD_REQUEST', 'request id 0 is reserved for connection errors: number requests from 1');
    } else if (this.inFlight.has(id)) {
      this.sendError(id, 'ERR_MCR_BAD_REQUEST', `request id ${id} is already in use on this connection: give each pending request its own id`);
    } else {
      this.start(request);
    }
  }

  private start(request: Request): void {
    const { id, body } = request;
    const controller = new AbortController();
    this.inFlight.set(id, { controller });
    const context: RequestContext = { signal: controller.signal, clientId: this.id, requestId: id };
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      const seconds = this.limits.requestTimeoutMs / 1000;
      controller.abort(new ControlError('ETIMEDOUT', `request timed out after ${seconds} s`));
      this.log.warn({ client: this.id, request: id, kind: body.kind }, 'control request timed out');
      this.sendError(id, 'ETIMEDOUT', `mcrd did not finish ${body.kind} within ${seconds} s: it may be busy or stuck; retry, and check mcrd's log if it persists`);
      this.finish(id);
    }, this.limits.requestTimeoutMs);
    // Client gone or server closing: nobody waits for the answer any more,
    // and the timer must not keep the process alive.
    controller.signal.addEventListener('abort', () => {
      settled = true;
      clearTimeout(timer);
    }, { once: true });

    invoke(this.handler, body, context).then(
      (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (body.kind === 'logs' && isAsyncIterable(result)) {
          void this.stream(id, result as AsyncIterable<LogsResult>, controller.signal);
          return;
        }
        this.send({ id, more: false, body: { ...(result as object), kind: body.kind } as ResponseBody }, body.kind);
        this.finish(id);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const info = toErrorInfo(err, body.kind);
        if (info.code === 'ERR_MCR_INTERNAL') this.log.error({ client: this.id, request: id, kind: body.kind, err }, 'control handler failed');
        this.sendError(id, info.code, info.message);
        this.finish(id);
      },
    );
  }

  /** Sends each batch of a follow stream, then a last empty one with more = false. */
  private async stream(id: number, batches: AsyncIterable<LogsResult>, signal: AbortSignal): Promise<void> {
    const iterator = batches[Symbol.asyncIterator]();
    // A handler waiting for new lines learns through the signal; return()
    // additionally ends a generator at its next yield.
    const stop = (): void => void iterator.return?.().catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        const next = await iterator.next();
        if (this.closing || signal.aborted) return;
        if (next.done) break;
        this.send({ id, more: true, body: { ...next.value, kind: 'logs' } }, 'logs');
        if (this.socket.writableNeedDrain && !(await this.drained())) {
          this.shutdown('client does not read its log stream', true);
          return;
        }
      }
      this.send({ id, more: false, body: { kind: 'logs', lines: [] } }, 'logs');
    } catch (err) {
      if (this.closing || signal.aborted) return;
      const info = toErrorInfo(err, 'logs');
      if (info.code === 'ERR_MCR_INTERNAL') this.log.error({ client: this.id, request: id, err }, 'control log stream failed');
      this.sendError(id, info.code, info.message);
    } finally {
      signal.removeEventListener('abort', stop);
      this.finish(id);
    }
  }

  /** Resolves true on 'drain', false if the socket closes or stays full for idleTimeoutMs. */
  private drained(): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), this.limits.idleTimeoutMs);
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }

  private finish(id: number): void {
    this.inFlight.delete(id);
    if (this.closing) return;
    // Idle time counts from the last answer too, not only the last request.
    this.idleTimer.refresh();
    this.lastActiveMs = performance.now();
    this.pump();
  }

  private onIdle(): void {
    if (this.closing) return;
    if (this.inFlight.size > 0 || this.queue.length > 0) {
      this.idleTimer.refresh();
      return;
    }
    const seconds = this.limits.idleTimeoutMs / 1000;
    this.sendError(0, 'ETIMEDOUT', `no request for ${seconds} s: mcrd closed the idle connection; reconnect to send more`);
    this.shutdown('idle');
  }

  private badFrame(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ client: this.id, err: message }, 'control client sent a bad frame; disconnecting');
    this.sendError(0, 'ERR_MCR_BAD_FRAME', message);
    this.shutdown('bad frame');
  }

  private sendError(id: number, code: string, message: string): void {
    this.send({ id, more: false, body: { kind: 'error', code, message } }, 'error');
  }

  private send(response: Response, kind: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    let bytes: Buffer;
    try {
      bytes = encodeFrame(encodeResponse(response));
    } catch (err) {
      // The handler returned something that does not fit the .proto: a bug in mcrd.
      this.log.error({ client: this.id, request: response.id, kind, err }, 'control handler returned a malformed result');
      const info = toErrorInfo(new Error('malformed result'), kind);
      bytes = encodeFrame(encodeResponse({ id: response.id, more: false, body: { kind: 'error', ...info } }));
    }
    this.socket.write(bytes);
    if (this.socket.writableLength > this.limits.maxPendingWriteBytes) {
      this.log.warn({ client: this.id, pending: this.socket.writableLength }, 'control client does not read its answers; disconnecting');
      this.shutdown('client does not read', true);
    }
  }

  private abortAll(reason: string): void {
    for (const { controller } of this.inFlight.values()) {
      if (!controller.signal.aborted) controller.abort(new ControlError('ERR_MCR_DISCONNECTED', reason));
    }
  }
}

/** Calls the handler method named by the request's kind, with the kind stripped. */
function invoke(handler: ControlHandler, body: Request['body'], context: RequestContext): Promise<unknown> {
  const { kind, ...request } = body;
  const method: unknown = (handler as unknown as Record<string, unknown>)[kind];
  if (typeof method !== 'function') {
    return Promise.reject(new ControlError('ERR_MCR_UNSUPPORTED', `this mcrd does not implement ${kind}: upgrade mcrd to match mcrctl`));
  }
  // Through a promise so that a handler throwing synchronously is answered too.
  return Promise.resolve().then(() => (method as (r: unknown, c: RequestContext) => unknown).call(handler, request, context));
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
