/**
 * Length-delimited framing for the control and worker sockets: each frame is
 * a base-128 varint byte count followed by that many bytes, exactly what
 * protobufjs's encodeDelimited writes. A stream socket delivers arbitrary
 * chunks, so FrameDecoder reassembles whole frames from them.
 *
 * The decoder is the first thing untrusted bytes meet, so it bounds memory:
 * a declared length above maxFrameBytes is rejected as soon as enough of the
 * varint has arrived to know it, before any of the body is buffered, and a
 * length prefix longer than 5 bytes (more than a uint32) is malformed. Both
 * are WireError ERR_MCR_BAD_FRAME; after one, the stream cannot be
 * resynchronised and the decoder rejects everything that follows.
 */
import { WireError } from './errors.js';

/** 1 MiB: far above any real control message, small enough to bound a client's cost. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** A uint32 needs at most 5 varint bytes (5 × 7 = 35 bits ≥ 32). */
const MAX_VARINT_BYTES = 5;

export interface FrameDecoderOptions {
  /** Largest frame body accepted, in bytes. Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
}

export class FrameDecoder {
  readonly maxFrameBytes: number;
  // Varint of the frame being read: value so far and bytes consumed.
  private lengthValue = 0;
  private lengthBytes = 0;
  // Body length once the varint is complete; null while reading the varint.
  private bodyLength: number | null = null;
  // Body bytes received so far, kept as slices to copy only once per frame.
  private parts: Buffer[] = [];
  private partsLength = 0;
  private failure: WireError | null = null;
  /** The length an oversize frame declared (at least), once push() refused it for that; else undefined. */
  oversizeBytes: number | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be an integer 0..4294967295, got ${max}`);
    }
    this.maxFrameBytes = max;
  }

  /** Bytes of an incomplete frame held, including a partial length prefix. */
  get bufferedBytes(): number {
    return this.lengthBytes + this.partsLength;
  }

  /** True when the stream ended between frames (nothing partial is held). */
  get idle(): boolean {
    return this.bodyLength === null && this.lengthBytes === 0;
  }

  /**
   * Feeds one chunk; returns the frames it completed (possibly none, possibly
   * several). The returned buffers may share memory with the chunk. Throws
   * WireError ERR_MCR_BAD_FRAME on a malformed or oversize length.
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const frames: Buffer[] = [];
    let offset = 0;
    for (;;) {
      if (this.bodyLength === null) {
        if (offset >= data.length) break;
        offset = this.readLength(data, offset);
        if (this.bodyLength === null) break;
      }
      const want = this.bodyLength - this.partsLength;
      const take = Math.min(want, data.length - offset);
      if (take > 0) {
        this.parts.push(data.subarray(offset, offset + take));
        this.partsLength += take;
        offset += take;
      }
      if (this.partsLength < this.bodyLength) break;
      const only = this.parts[0];
      frames.push(this.parts.length === 1 && only ? only : Buffer.concat(this.parts, this.partsLength));
      this.bodyLength = null;
      this.parts = [];
      this.partsLength = 0;
    }
    return frames;
  }

  /** Consumes varint bytes from data[offset..]; returns the new offset. */
  private readLength(data: Buffer, offset: number): number {
    while (offset < data.length) {
      const byte = data[offset++] as number;
      // Multiplication, not shifts: JS shifts are 32-bit signed and would wrap.
      this.lengthValue += (byte & 0x7f) * 2 ** (7 * this.lengthBytes);
      this.lengthBytes += 1;
      // The value only grows with more bytes, so an oversize prefix is known
      // early; checking here stops a peer from making us wait for its body.
      if (this.lengthValue > this.maxFrameBytes) {
        this.oversizeBytes = this.lengthValue;
        this.fail(`frame declares ${this.lengthValue > 0xffffffff ? 'more than 4294967295' : this.lengthValue} bytes, more than the limit of ${this.maxFrameBytes}`);
      }
      if ((byte & 0x80) === 0) {
        this.bodyLength = this.lengthValue;
        this.lengthValue = 0;
        this.lengthBytes = 0;
        return offset;
      }
      if (this.lengthBytes >= MAX_VARINT_BYTES) {
        this.fail(`frame length prefix is not a valid varint (more than ${MAX_VARINT_BYTES} bytes)`);
      }
    }
    return offset;
  }

  private fail(what: string): never {
    this.failure = new WireError(
      'ERR_MCR_BAD_FRAME',
      `${what}: the peer does not speak mcr's length-delimited protobuf protocol (is it an mcr client of the same version?)`,
    );
    throw this.failure;
  }
}

/** Encodes n as the varint length prefix protobufjs writes (uint32). */
export function encodeVarint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`varint length must be a uint32, got ${n}`);
  const bytes: number[] = [];
  let rest = n;
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** Prefixes one encoded message with its length, ready to write to a socket. */
export function encodeFrame(body: Uint8Array): Buffer {
  const prefix = encodeVarint(body.byteLength);
  return Buffer.concat([prefix, body], prefix.length + body.byteLength);
}
