/**
 * One client of the control socket, seen from mcrd: reassembles frames,
 * dispatches each request to the handler, answers with the request's id,
 * and protects mcrd and the other clients from this one.
 *
 * Every request runs as its own promise, when the server-wide
 * RequestScheduler (scheduler.ts) gives it its turn: a slow handler or a
 * client that never reads delays only its own answers, a client that keeps
 * mcrd busy does not delay a new one. The costs a client can impose are
 * bounded:
 * - a bad frame gets one Error response (id 0, ERR_MCR_BAD_FRAME) and the
 *   connection is closed, since the stream cannot be resynchronised;
 * - no complete request and nothing in flight for idleTimeoutMs: closed;
 * - a request frame not complete frameTimeoutMs after its first byte
 *   arrived: answered ETIMEDOUT on id 0 and closed (socket-waits.ts);
 * - a handler slower than requestTimeoutMs (counted from the request's
 *   arrival, so time waiting for its turn counts): answered ETIMEDOUT, its
 *   signal aborted, its late result dropped;
 * - more than maxInFlight requests at once: reading pauses until some finish
 *   (socket back-pressure instead of unbounded queues);
 * - answers it has not read (more than the socket's high-water mark unsent):
 *   its requests wait until it reads (their turns go to others), and it
 *   counts as idle meanwhile (evictable, closed at the idle timeout);
 * - more than maxPendingWriteBytes unread when an answer is ready or a
 *   request's turn comes: closed (one answer larger than the limit, a long
 *   rule list, still goes to a client that reads);
 * - an answer larger than a client takes in one frame: refused with E2BIG;
 *   a listRules or stats asked for in parts comes as parts of ~1 MiB, each
 *   sent once the client has read the one before (multi-answers.ts, which
 *   also sends the follow streams of logs and events);
 * - idle (nothing in flight) when the server is full and another client
 *   connects: possibly evicted, the one idle longest first (server.ts).
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame, FrameDecoder } from '../../proto/framing.js';
import { decodeRequest, encodeResponse } from '../../proto/control.js';
import type { Request, Response, ResponseBody } from '../../proto/types.js';
import { isPartedKind, MAX_ANSWER_FRAME_BYTES, type PartedAnswer } from '../../common/answer-parts.js';
import { WireError } from '../../proto/errors.js';
import { ControlError, errorCode, toErrorInfo } from '../../common/control-errors.js';
import { isMutating, MUTATION_TIMEOUT_ADVICE } from '../../common/mutating-requests.js';
import { invoke, isAsyncIterable, type ControlHandler, type ControlLogger, type RequestContext } from './handler.js';
import { newTicketholder, type RequestScheduler } from './scheduler.js';
import { FrameTimer } from './socket-waits.js';
import { sendFollow, sendParts, type AnswerChannel, type FollowStream } from './multi-answers.js';

export interface ConnectionLimits {
  idleTimeoutMs: number;
  /** How long a request frame may take to arrive whole, from its first byte. */
  frameTimeoutMs: number;
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
  // A 'drain' listener is set (waitsForReader).
  private drainWaiting = false;
  // Requests whose turn came while answers were unread: submitted again on 'drain'.
  private readonly deferred = new Map<number, () => void>();
  private readonly frameTimer: FrameTimer;
  // When the last whole request arrived or the last answer finished
  // (monotonic ms): the server evicts the client idle longest.
  private lastActiveMs = performance.now();
  private readonly ticket = newTicketholder();
  // This connection as the senders of several-Response answers see it (multi-answers.ts).
  private readonly channel: AnswerChannel;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly handler: ControlHandler,
    private readonly limits: ConnectionLimits,
    private readonly log: ControlLogger,
    private readonly scheduler: RequestScheduler,
    onClose: (connection: ControlConnection) => void,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    const connection = this;
    this.channel = {
      clientId: id, socket, idleTimeoutMs: limits.idleTimeoutMs, log,
      get closing(): boolean {
        return connection.closing;
      },
      send: (response, kind) => this.send(response, kind),
      sendEncoded: (requestId, kind, message) => this.sendEncoded(requestId, kind, message),
      sendError: (requestId, code, message) => this.sendError(requestId, code, message),
      drop: (reason) => this.shutdown(reason, true),
      finish: (requestId) => this.finish(requestId),
    };
    this.frameTimer = new FrameTimer(limits.frameTimeoutMs, socket, () => !this.decoder.idle, () => this.onFrameTimeout());
    this.idleTimer = setTimeout(() => this.onIdle(), limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // ECONNRESET, EPIPE: the client went away; 'close' follows and cleans up.
    socket.on('error', (err) => this.log.debug({ client: id, code: errorCode(err) }, 'control client socket error'));
    socket.on('close', () => {
      this.closing = true;
      clearTimeout(this.idleTimer);
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      this.frameTimer.stop();
      this.abortAll('client disconnected');
      onClose(this);
    });
  }

  /**
   * Since when (monotonic ms, performance.now()) this client has had nothing
   * in flight, or undefined while it has (a request being handled, queued,
   * or a log stream open) or is closing: such a client is never evicted nor
   * timed out as idle. Requests held back until the client reads its
   * answers (queued or deferred) do not count: a client that does not read
   * is idle.
   */
  get idleSinceMs(): number | undefined {
    if (this.closing || this.inFlight.size > this.deferred.size) return undefined;
    if (this.queue.length > 0 && !this.socket.writableNeedDrain) return undefined;
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
    if (this.closing && !immediately) return;
    this.closing = true;
    this.log.debug({ client: this.id, reason }, 'closing control client');
    clearTimeout(this.idleTimer);
    this.frameTimer.stop();
    // Now, not at 'close': requests waiting for their turn must not start.
    this.abortAll(reason);
    this.queue.length = 0;
    if (immediately) {
      this.socket.destroy();
      return;
    }
    // Keep reading (and discarding, see onData): the client's EOF must be seen.
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
    this.frameTimer.update(frames.length > 0);
    for (const frame of frames) this.queue.push(frame);
    this.pump();
  }

  private onFrameTimeout(): void {
    if (this.closing) return;
    const seconds = this.limits.frameTimeoutMs / 1000;
    this.log.warn({ client: this.id, buffered: this.decoder.bufferedBytes }, 'control client sends a request too slowly; disconnecting');
    this.sendError(0, 'ETIMEDOUT', `a request frame was not complete ${seconds} s after its first byte (${this.decoder.bufferedBytes} bytes arrived): mcrd closed the connection; send each request whole`);
    this.shutdown('request frame too slow');
  }

  /** Starts queued requests while under maxInFlight; pauses reading otherwise. */
  private pump(): void {
    while (!this.closing && this.queue.length > 0 && this.inFlight.size < this.limits.maxInFlight && !this.waitsForReader()) {
      this.handleFrame(this.queue.shift() as Buffer);
    }
    if (this.closing) return;
    if (this.queue.length > 0) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  /**
   * True while earlier answers wait for the client to read them (more than
   * the socket's high-water mark unsent): its next requests start only
   * once it has read, so a client that never reads gets no more work done
   * for it. Pumps again on 'drain'.
   */
  private waitsForReader(): boolean {
    if (!this.socket.writableNeedDrain) return false;
    if (!this.drainWaiting) {
      this.drainWaiting = true;
      this.socket.once('drain', () => {
        this.drainWaiting = false;
        const again = [...this.deferred.values()];
        this.deferred.clear();
        for (const submit of again) submit();
        this.pump();
      });
    }
    return true;
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
    // The request's place (or turn) in the scheduler, given back once by release().
    let place: (() => void) | null = null;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      place?.();
    };
    // The request is over (answered, failed, timed out or aborted): once.
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      release();
      return true;
    };
    // The handler was called: from then on a change goes on whatever the
    // answer's deadline; before, the request still waited for its turn and
    // the deadline ends it unmade.
    let invoked = false;
    const timer = setTimeout(() => {
      if (!settle()) return;
      const seconds = this.limits.requestTimeoutMs / 1000;
      controller.abort(new ControlError('ETIMEDOUT', `request timed out after ${seconds} s`));
      this.log.warn({ client: this.id, request: id, kind: body.kind, started: invoked }, 'control request timed out');
      this.sendError(id, 'ETIMEDOUT', !invoked
        ? `mcrd did not get to ${body.kind} within ${seconds} s (other requests, or answers this client has not read, came first): nothing was done; retry`
        : isMutating(body.kind)
          ? `mcrd did not finish ${body.kind} within ${seconds} s (busy, or waiting for a worker): ${MUTATION_TIMEOUT_ADVICE}`
          : `mcrd did not finish ${body.kind} within ${seconds} s: it may be busy or stuck; retry, and check mcrd's log if it persists`);
      this.finish(id);
    }, this.limits.requestTimeoutMs);
    // Client gone or server closing: nobody waits for the answer any more,
    // and the timer must not keep the process alive.
    controller.signal.addEventListener('abort', () => void settle(), { once: true });

    const run = (giveBack: () => void): void => {
      place = giveBack;
      // Answers it has not read yet: the work for another would be wasted.
      if (settled || this.closing || this.unreadTooLong()) {
        giveBack();
        return;
      }
      if (this.socket.writableNeedDrain) {
        // Earlier answers wait unread: give the place to others, come back
        // once the client has read them.
        giveBack();
        this.deferred.set(id, submit);
        this.waitsForReader();
        return;
      }
      invoked = true;
      invoke(this.handler, body, context).then(
        (result) => {
          if (!settle()) return;
          if ((body.kind === 'logs' || body.kind === 'events') && isAsyncIterable(result)) {
            void sendFollow(this.channel, id, body.kind, result as FollowStream, controller.signal);
            return;
          }
          if ((body.kind === 'listRules' || body.kind === 'stats') && body.parts === true) {
            void sendParts(this.channel, id, { ...(result as object), kind: body.kind } as PartedAnswer, controller.signal);
            return;
          }
          this.send({ id, more: false, body: { ...(result as object), kind: body.kind } as ResponseBody }, body.kind);
          this.finish(id);
        },
        (err: unknown) => {
          if (!settle()) return;
          const info = toErrorInfo(err, body.kind);
          if (info.code === 'ERR_MCR_INTERNAL') this.log.error({ client: this.id, request: id, kind: body.kind, err }, 'control handler failed');
          this.sendError(id, info.code, info.message);
          this.finish(id);
        },
      );
    };
    const submit = (): void => {
      if (released) return;
      place = this.scheduler.submit(this.ticket, body.kind, run);
    };
    submit();
  }

  private finish(id: number): void {
    this.inFlight.delete(id);
    this.deferred.delete(id);
    if (this.closing) return;
    // Idle time counts from the last answer too, not only the last request.
    this.idleTimer.refresh();
    this.lastActiveMs = performance.now();
    this.pump();
  }

  private onIdle(): void {
    if (this.closing) return;
    if (this.idleSinceMs === undefined) {
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

  /** Encodes and writes one answer; false when it went out as an error instead (E2BIG, a malformed result) or not at all. */
  private send(response: Response, kind: string): boolean {
    let message: Uint8Array;
    try {
      message = encodeResponse(response);
    } catch (err) {
      // The handler returned something that does not fit the .proto: a bug in mcrd.
      this.log.error({ client: this.id, request: response.id, kind, err }, 'control handler returned a malformed result');
      const info = toErrorInfo(new Error('malformed result'), kind);
      this.sendEncoded(response.id, kind, encodeResponse({ id: response.id, more: false, body: { kind: 'error', ...info } }));
      return false;
    }
    return this.sendEncoded(response.id, kind, message);
  }

  /** Frames and writes one encoded Response; false when it went out as E2BIG instead, or not at all (closed, dropped). */
  private sendEncoded(id: number, kind: string, message: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    let bytes = encodeFrame(message);
    const fits = message.length <= MAX_ANSWER_FRAME_BYTES;
    if (!fits) {
      // A client would refuse the frame and lose the connection, every
      // other request on it included: refuse this one answer instead.
      this.log.warn({ client: this.id, request: id, kind, bytes: message.length }, 'control answer too large for one frame');
      bytes = encodeFrame(encodeResponse({ id, more: false, body: { kind: 'error', code: 'E2BIG',
        message: `the ${kind} answer takes ${message.length} bytes, more than a client takes in one frame (${MAX_ANSWER_FRAME_BYTES}): ` +
          (isPartedKind(kind) ? 'ask for it in parts (an mcrctl of mcrd\'s version does)' : 'ask for less') } }));
    }
    if (this.unreadTooLong()) return false;
    this.socket.write(bytes);
    return fits;
  }

  /** True (and the client dropped) when more than maxPendingWriteBytes of its answers wait unread. */
  private unreadTooLong(): boolean {
    const pending = this.socket.writableLength;
    if (pending <= this.limits.maxPendingWriteBytes) return false;
    this.log.warn({ client: this.id, pending }, 'control client does not read its answers; disconnecting');
    this.shutdown('client does not read', true);
    return true;
  }

  private abortAll(reason: string): void {
    for (const { controller } of this.inFlight.values()) {
      if (!controller.signal.aborted) controller.abort(new ControlError('ERR_MCR_DISCONNECTED', reason));
    }
  }
}
