/**
 * The answers of one request that take several Responses, sent on a
 * control connection (connection.ts): a follow stream (logs, events, sent
 * batch by batch as they come, then an empty last one) and an answer in
 * parts (listRules, stats: common/answer-parts.ts). Both wait for the
 * client to read what was sent before sending more (up to the idle timeout,
 * then the client is cut), so neither piles answers up unread; both end
 * with the request's `finish`, once.
 */
import type { Socket } from 'node:net';
import { MAX_ANSWER_FRAME_BYTES, splitAnswer, type PartedAnswer } from '../../common/answer-parts.js';
import { toErrorInfo } from '../../common/control-errors.js';
import { encodeResponse } from '../../proto/control.js';
import type { EventsResult, LogsResult, Response, ResponseBody } from '../../proto/types.js';
import type { ControlLogger } from './handler.js';
import { drained } from './socket-waits.js';

/** What a follow request's handler returns; `dropped` resolves when the producer gives up on a client that does not read. */
export type FollowStream = AsyncIterable<LogsResult | EventsResult> & { readonly dropped?: Promise<unknown> };

/** The connection as these senders use it. */
export interface AnswerChannel {
  readonly clientId: number;
  readonly socket: Socket;
  readonly idleTimeoutMs: number;
  readonly log: ControlLogger;
  /** The connection is closing: send nothing more. */
  readonly closing: boolean;
  /** Encodes and writes one Response; false when it went out as an error instead (E2BIG) or not at all. */
  send(response: Response, kind: string): boolean;
  /** Writes one Response encoded already; false as for send. */
  sendEncoded(id: number, kind: string, message: Uint8Array): boolean;
  sendError(id: number, code: string, message: string): void;
  /** Cuts a client that did not read within the idle timeout. */
  drop(reason: string): void;
  /** The request is over (answered, failed or aborted). */
  finish(id: number): void;
}

/** False when the client did not read what waits for it within the idle timeout (or `dropped` came first): then it is cut. */
async function readerKeptUp(c: AnswerChannel, what: string, dropped?: Promise<unknown>): Promise<boolean> {
  if (!c.socket.writableNeedDrain) return true;
  const waited = drained(c.socket, c.idleTimeoutMs);
  const read = dropped === undefined ? await waited : await Promise.race([waited, dropped.then(() => 'dropped' as const)]);
  if (read !== false) return true;
  c.drop(`client does not read its ${what}`);
  return false;
}

/**
 * Sends each batch of a follow stream (logs, events), then a last empty
 * one with more = false. A stream whose producer drops the client while it
 * waits for it to read (`dropped`, an events follower that fell behind)
 * stops waiting and sends the producer's error as its last answer.
 */
export async function sendFollow(c: AnswerChannel, id: number, kind: 'logs' | 'events', batches: FollowStream, signal: AbortSignal): Promise<void> {
  const iterator = batches[Symbol.asyncIterator]();
  // A handler waiting for new lines learns through the signal; return()
  // additionally ends a generator at its next yield.
  const stop = (): void => void iterator.return?.().catch(() => undefined);
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const next = await iterator.next();
      if (c.closing || signal.aborted) return;
      if (next.done) break;
      // Not sent as it was (too large: E2BIG ended the stream for the client): stop here.
      if (!c.send({ id, more: true, body: { ...next.value, kind } as ResponseBody }, kind)) return;
      if (!(await readerKeptUp(c, `${kind} stream`, batches.dropped))) return;
    }
    c.send({ id, more: false, body: kind === 'logs' ? { kind, lines: [] } : { kind, events: [] } }, kind);
  } catch (err) {
    if (c.closing || signal.aborted) return;
    const info = toErrorInfo(err, kind);
    if (info.code === 'ERR_MCR_INTERNAL') c.log.error({ client: c.clientId, request: id, err }, `control ${kind} stream failed`);
    else if (info.code === 'ERR_MCR_SLOW_FOLLOWER') c.log.warn({ client: c.clientId, request: id }, info.message);
    c.sendError(id, info.code, info.message);
  } finally {
    signal.removeEventListener('abort', stop);
    c.finish(id);
  }
}

/**
 * Sends a listRules or stats answer in parts of about 1 MiB, `more` false
 * on the last, each encoded once. A part of one rule still larger than a
 * client takes in one frame ends the answer with E2BIG naming that rule.
 */
export async function sendParts(c: AnswerChannel, id: number, result: PartedAnswer, signal: AbortSignal): Promise<void> {
  const kind = result.kind;
  try {
    for (const { part, bytes, last } of splitAnswer(result, (p, isLast) => encodeResponse({ id, more: !isLast, body: p }))) {
      if (bytes.length > MAX_ANSWER_FRAME_BYTES) {
        const rule = part.kind === 'listRules' ? part.rules[0]?.id : part.rules[0]?.ruleId;
        c.sendError(id, 'E2BIG', `rule ${rule ?? '?'} alone takes ${bytes.length} bytes in the ${kind} answer, more than a client takes in one frame ` +
          `(${MAX_ANSWER_FRAME_BYTES}): shorten its source or excludeSources lists (a prefix instead of many addresses)`);
        return;
      }
      if (!c.sendEncoded(id, kind, bytes)) return;
      if (last || !(await readerKeptUp(c, `${kind} answer`)) || c.closing || signal.aborted) return;
    }
  } catch (err) {
    if (c.closing || signal.aborted) return;
    const info = toErrorInfo(err, kind);
    c.log.error({ client: c.clientId, request: id, kind, err }, 'control answer in parts failed');
    c.sendError(id, info.code, info.message);
  } finally {
    c.finish(id);
  }
}
