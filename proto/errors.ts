/**
 * The error type of the wire layer. Every failure to frame, encode or decode
 * a message is a WireError with a machine-readable code (errno-shaped, like
 * Node's own system errors) and a message that says what to do.
 *
 * Codes:
 * - ERR_MCR_BAD_FRAME: the byte stream is not length-delimited frames of the
 *   expected protocol (malformed varint, oversize length, undecodable bytes).
 * - ERR_MCR_BAD_MESSAGE: a message to encode does not match the .proto.
 * - ERR_MCR_UNKNOWN_KIND: a frame decoded but carries no request, response or
 *   command kind this build knows; usually two versions of mcr talking.
 * - ERR_MCR_PROTO_MISSING: the .proto files could not be found or parsed.
 */
export type WireErrorCode = 'ERR_MCR_BAD_FRAME' | 'ERR_MCR_BAD_MESSAGE' | 'ERR_MCR_UNKNOWN_KIND' | 'ERR_MCR_PROTO_MISSING';

export class WireError extends Error {
  override readonly name = 'WireError';
  /**
   * For ERR_MCR_UNKNOWN_KIND: the id (or seq) of the undecodable message, so
   * the peer can still be answered about that exact message.
   */
  readonly messageId: number | undefined;

  constructor(readonly code: WireErrorCode, message: string, options: { cause?: unknown; messageId?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.messageId = options.messageId;
  }
}

export function isWireError(err: unknown): err is WireError {
  return err instanceof WireError;
}
