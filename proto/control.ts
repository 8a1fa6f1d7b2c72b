/**
 * Encode and decode the control protocol's envelopes (proto/control.proto)
 * to and from frame bodies. Use encodeFrame() from framing.ts to put a body
 * on a socket and FrameDecoder to take frames off one.
 *
 * Decoding trusts the schema, not the peer: bytes that do not parse are
 * ERR_MCR_BAD_FRAME; a well-formed envelope whose body is of a kind this
 * build does not know is ERR_MCR_UNKNOWN_KIND carrying the envelope's id, so
 * the server can still answer that request instead of dropping the client.
 */
import type { Type } from 'protobufjs';
import { decodeEnvelope, encodeMessage, putOneof } from './codec.js';
import type { Request, RequestBody, RequestDraft, Response, ResponseBody } from './types.js';
import { messageType } from './schema.js';

let requestType: Type | null = null;
let responseType: Type | null = null;

function types(): { request: Type; response: Type } {
  requestType ??= messageType('mcr.control.Request');
  responseType ??= messageType('mcr.control.Response');
  return { request: requestType, response: responseType };
}

/** Encodes a request; fields left out of the body go on the wire as their proto3 zero value. */
export function encodeRequest(request: { id: number; body: RequestDraft }): Uint8Array {
  return encodeMessage(types().request, { id: request.id, ...putOneof(request.body) });
}

export function decodeRequest(bytes: Uint8Array): Request {
  const { id, body } = decodeEnvelope(types().request, bytes, 'id',
    (n) => `request ${n} has no request kind this mcrd knows: use an mcrctl of the same version as mcrd`);
  return { id, body: body as unknown as RequestBody };
}

export function encodeResponse(response: Response): Uint8Array {
  return encodeMessage(types().response, { id: response.id, more: response.more, ...putOneof(response.body) });
}

export function decodeResponse(bytes: Uint8Array): Response {
  const { id, plain, body } = decodeEnvelope(types().response, bytes, 'id',
    (n) => `response ${n} has no result kind this client knows: use an mcrctl of the same version as mcrd`);
  return { id, more: plain.more as boolean, body: body as unknown as ResponseBody };
}
