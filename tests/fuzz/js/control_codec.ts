/**
 * Fuzz harness: the control socket's framing and decoders, what mcrd does
 * with the bytes any local client writes to its socket (and mcrctl with
 * mcrd's answers). The input is a byte stream, with the decoder's frame
 * limit and how the stream is cut into reads taken from its last bytes
 * (FuzzedDataProvider). Checked:
 *
 * - FrameDecoder (proto/framing.ts) returns exactly the frames, and fails
 *   exactly where, a reference reading of the stream (varint length of at
 *   most 5 bytes, a declared length over the limit is refused as soon as it
 *   is known) says, however the stream is cut; it fails only with
 *   WireError ERR_MCR_BAD_FRAME and then refuses everything after; it
 *   never holds more than a frame and its prefix.
 * - decodeRequest and decodeResponse (proto/control.ts, proto/codec.ts
 *   decodeEnvelope) on every frame: either a message of exactly the
 *   generated type (lib/wire-shape.ts) that encodes and decodes back to
 *   itself, or WireError ERR_MCR_BAD_FRAME / ERR_MCR_UNKNOWN_KIND (the
 *   latter with the message's id); nothing else is thrown.
 */
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from '../../../proto/framing.js';
import type { WireError } from '../../../proto/errors.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../proto/control.js';
import { REQUEST_KINDS, RESPONSE_KINDS } from '../../../proto/types.js';
import { FuzzedDataProvider } from './engine/data-provider.js';
import { checkBody, checkMessage, checkRoundTrip, expectWireError, fail, messageType } from './lib/wire-shape.js';

const Request = messageType('mcr.control.Request');
const Response = messageType('mcr.control.Response');
const BODY = new Set<string>([...REQUEST_KINDS, ...RESPONSE_KINDS]);

interface Reading {
  frames: Buffer[];
  /** Offset of the byte at which the stream became invalid, or -1. */
  failedAt: number;
  /** Bytes of an unfinished frame left at the end: its partial length prefix, or its body so far. */
  pending: number;
  /** The stream ends inside a frame (its prefix or its body). */
  partial: boolean;
}

/** The stream read as the framing contract says, all at once. */
function reference(stream: Buffer, max: number): Reading {
  const frames: Buffer[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const start = offset;
    let value = 0;
    let bytes = 0;
    let complete = false;
    while (offset < stream.length) {
      const byte = stream[offset++] ?? 0;
      value += (byte & 0x7f) * 2 ** (7 * bytes);
      bytes++;
      if (value > max) return { frames, failedAt: offset - 1, pending: 0, partial: false };
      if ((byte & 0x80) === 0) {
        complete = true;
        break;
      }
      if (bytes >= 5) return { frames, failedAt: offset - 1, pending: 0, partial: false };
    }
    if (!complete) return { frames, failedAt: -1, pending: offset - start, partial: true };
    // A complete prefix is not held any more: only the body's bytes so far.
    if (stream.length - offset < value) return { frames, failedAt: -1, pending: stream.length - offset, partial: true };
    frames.push(stream.subarray(offset, offset + value));
    offset += value;
  }
  return { frames, failedAt: -1, pending: 0, partial: false };
}

function checkFraming(stream: Buffer, max: number, cuts: number[]): Buffer[] {
  const expected = reference(stream, max);
  const decoder = new FrameDecoder({ maxFrameBytes: max });
  const got: Buffer[] = [];
  let failure: WireError | null = null;
  let failedChunkEnd = -1;
  let offset = 0;
  for (const end of [...cuts, stream.length]) {
    const chunk = stream.subarray(offset, end);
    offset = end;
    try {
      const frames = decoder.push(chunk);
      if (failure !== null) fail('FrameDecoder accepted bytes after it had failed');
      got.push(...frames);
    } catch (err) {
      expectWireError(err, ['ERR_MCR_BAD_FRAME'], 'FrameDecoder.push');
      if (failure === null) {
        failure = err as WireError;
        failedChunkEnd = end;
      } else if (err !== failure) {
        fail('FrameDecoder threw a different error after failing once', { first: failure.message, then: (err as Error).message });
      }
    }
    if (failure === null && decoder.bufferedBytes > max + 5) fail(`FrameDecoder holds ${decoder.bufferedBytes} bytes with a limit of ${max}`);
  }
  for (const frame of got) if (frame.length > max) fail(`a frame of ${frame.length} bytes passed a limit of ${max}`);
  if (expected.failedAt >= 0) {
    if (failure === null) fail(`the stream is invalid at byte ${expected.failedAt} but FrameDecoder accepted it`, stream);
    // Frames completed in the chunk that failed are not returned: the others must be the reference's first ones.
    const chunkStart = cuts.filter((c) => c < failedChunkEnd).pop() ?? 0;
    if (expected.failedAt < chunkStart || expected.failedAt >= failedChunkEnd) {
      fail(`FrameDecoder failed in the chunk ending at ${failedChunkEnd}, the stream is invalid at byte ${expected.failedAt}`, stream);
    }
    if (!isDeepStrictEqual(got, expected.frames.slice(0, got.length))) fail('FrameDecoder returned other frames than the reference', stream);
  } else {
    if (failure !== null) fail(`FrameDecoder refused a valid stream: ${failure.message}`, stream);
    if (!isDeepStrictEqual(got, expected.frames)) fail('FrameDecoder returned other frames than the reference', { stream, got, expected: expected.frames });
    if (decoder.bufferedBytes !== expected.pending) fail(`FrameDecoder holds ${decoder.bufferedBytes} bytes, the reference ${expected.pending}`, stream);
    if (decoder.idle === expected.partial) fail('FrameDecoder.idle disagrees with what it holds', stream);
  }
  return expected.frames;
}

function checkRequest(frame: Buffer): void {
  let request;
  try {
    request = decodeRequest(frame);
  } catch (err) {
    expectWireError(err, ['ERR_MCR_BAD_FRAME', 'ERR_MCR_UNKNOWN_KIND'], 'decodeRequest');
    return;
  }
  const { body, ...envelope } = request;
  checkMessage(Request, envelope, 'request', BODY);
  checkBody(Request, body, REQUEST_KINDS, 'request.body');
  checkRoundTrip(request, encodeRequest, decodeRequest, 'request');
}

function checkResponse(frame: Buffer): void {
  let response;
  try {
    response = decodeResponse(frame);
  } catch (err) {
    expectWireError(err, ['ERR_MCR_BAD_FRAME', 'ERR_MCR_UNKNOWN_KIND'], 'decodeResponse');
    return;
  }
  const { body, ...envelope } = response;
  checkMessage(Response, envelope, 'response', BODY);
  checkBody(Response, body, RESPONSE_KINDS, 'response.body');
  checkRoundTrip(response, encodeResponse, decodeResponse, 'response');
}

const LIMITS = [0, 1, 2, 5, 16, 127, 128, 300, 4096, 16384, DEFAULT_MAX_FRAME_BYTES];

export function fuzz(data: Buffer): void {
  const p = new FuzzedDataProvider(data);
  const max = p.pick(LIMITS);
  // Up to 8 cut points, as offsets into the stream.
  const cutCount = p.consumeIntInRange(0, 8);
  const cutSeeds = Array.from({ length: cutCount }, () => p.consumeIntInRange(0, 0xffff));
  const stream = Buffer.from(p.consumeRemainingBytes());
  const cuts = [...new Set(cutSeeds.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
  for (const frame of checkFraming(stream, max, cuts)) {
    checkRequest(frame);
    checkResponse(frame);
  }
}

/** Words the mutator inserts besides the literals of proto/: varint prefixes of common lengths. */
export const dictionary = [[0x80, 0x01], [0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x40]].map((b) => Uint8Array.from(b));
