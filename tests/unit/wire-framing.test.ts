/**
 * Length-delimited framing: FrameDecoder reassembles frames from arbitrary
 * chunking (every split point, byte by byte, many frames per chunk), agrees
 * with protobufjs's encodeDelimited, and rejects oversize or malformed
 * length prefixes with ERR_MCR_BAD_FRAME before buffering a body.
 */
import t from 'tap';
import protobuf from 'protobufjs';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, encodeVarint, FrameDecoder } from '../../proto/framing.js';
import { protoRoot } from '../../proto/schema.js';

/** A body of n bytes whose content identifies it. */
const body = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

const SIZES = [0, 1, 5, 127, 128, 300];
const bodies = SIZES.map((n, i) => body(n, i));
const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));

t.test('encodeFrame writes the prefix protobufjs encodeDelimited writes', async (t) => {
  const Request = protoRoot().lookupType('mcr.control.Request');
  const message = { id: 300, check: { file: 'x'.repeat(200) } };
  const delimited = Buffer.from(Request.encodeDelimited(message).finish());
  const plain = Request.encode(message).finish();
  t.same(encodeFrame(plain), delimited);
  for (const n of [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28, 0xffffffff]) {
    t.same(encodeVarint(n), Buffer.from(protobuf.Writer.create().uint32(n).finish()), `varint ${n}`);
  }
  t.throws(() => encodeVarint(-1), RangeError);
  const frames = new FrameDecoder().push(delimited);
  t.equal(frames.length, 1);
  t.same(Request.toObject(Request.decode(frames[0] as Buffer)), { id: 300, check: { file: 'x'.repeat(200) } });
});

t.test('several frames in one chunk, including empty ones', async (t) => {
  const decoder = new FrameDecoder();
  t.same(decoder.push(stream), bodies);
  t.ok(decoder.idle);
  t.equal(decoder.bufferedBytes, 0);
});

t.test('a split at every byte boundary yields the same frames', async (t) => {
  for (let i = 0; i <= stream.length; i++) {
    const decoder = new FrameDecoder();
    const frames = [...decoder.push(stream.subarray(0, i)), ...decoder.push(stream.subarray(i))];
    if (frames.length !== bodies.length || frames.some((f, k) => !f.equals(bodies[k] as Buffer))) {
      t.fail(`split at ${i} gave different frames`);
      return;
    }
  }
  t.pass(`all ${stream.length + 1} split points`);
});

t.test('byte by byte, and a large frame in many chunks', async (t) => {
  const decoder = new FrameDecoder();
  const frames: Buffer[] = [];
  let busyMidStream = true;
  for (let i = 0; i < stream.length; i++) {
    frames.push(...decoder.push(stream.subarray(i, i + 1)));
    // The last frame is 300 bytes long: until its final byte something is held.
    if (i >= stream.length - 300 && i < stream.length - 1) busyMidStream &&= !decoder.idle && decoder.bufferedBytes > 0;
  }
  t.same(frames, bodies);
  t.ok(busyMidStream, 'holds a partial frame while one is incomplete');
  t.ok(decoder.idle, 'idle once the last frame is out');

  const big = body(70_000, 9); // three-byte varint prefix
  const framed = encodeFrame(big);
  const d2 = new FrameDecoder();
  const out: Buffer[] = [];
  for (let i = 0; i < framed.length; i += 999) out.push(...d2.push(framed.subarray(i, i + 999)));
  t.equal(out.length, 1);
  t.ok(out[0]?.equals(big));
});

t.test('a frame of exactly the limit is accepted, one byte more is not', async (t) => {
  const ok = new FrameDecoder({ maxFrameBytes: 100 });
  t.equal(ok.push(encodeFrame(body(100, 1))).length, 1);
  const over = new FrameDecoder({ maxFrameBytes: 100 });
  t.throws(() => over.push(encodeVarint(101)), { code: 'ERR_MCR_BAD_FRAME', message: /declares 101 bytes, more than the limit of 100/ });
  t.equal(new FrameDecoder().maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
  t.equal(DEFAULT_MAX_FRAME_BYTES, 1024 * 1024);
  t.throws(() => new FrameDecoder().push(encodeVarint(DEFAULT_MAX_FRAME_BYTES + 1)), { code: 'ERR_MCR_BAD_FRAME' });
});

t.test('an oversize length is rejected before the varint even ends', async (t) => {
  const decoder = new FrameDecoder();
  // 0xff 0xff 0xff with the continuation bit: at least 2^21 - 1 > 1 MiB.
  t.throws(() => decoder.push(Buffer.from([0xff, 0xff, 0xff])), { code: 'ERR_MCR_BAD_FRAME', message: /more than the limit/ });
  t.throws(() => decoder.push(Buffer.from([0x00])), { code: 'ERR_MCR_BAD_FRAME' }, 'stays failed: the stream cannot resynchronise');
});

t.test('a length prefix longer than 5 bytes is malformed', async (t) => {
  const max = 0xffffffff;
  // Non-minimal zero: stays under the limit, so only the length check fires.
  t.throws(() => new FrameDecoder({ maxFrameBytes: max }).push(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])), {
    code: 'ERR_MCR_BAD_FRAME',
    message: /not a valid varint/,
  });
  const split = new FrameDecoder({ maxFrameBytes: max });
  t.same(split.push(Buffer.from([0x80, 0x80])), []);
  t.throws(() => split.push(Buffer.from([0x80, 0x80, 0x80])), { code: 'ERR_MCR_BAD_FRAME', message: /not a valid varint/ });
  // A fifth byte carrying bits beyond 32 is a value above any limit.
  t.throws(() => new FrameDecoder({ maxFrameBytes: max }).push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), {
    code: 'ERR_MCR_BAD_FRAME',
    message: /more than 4294967295/,
  });
  // A minimal-but-padded prefix of 5 bytes is still fine.
  t.same(new FrameDecoder({ maxFrameBytes: max }).push(Buffer.from([0x81, 0x80, 0x80, 0x80, 0x00, 0x2a])), [Buffer.from([0x2a])]);
});

t.test('options are checked', async (t) => {
  t.throws(() => new FrameDecoder({ maxFrameBytes: -1 }), RangeError);
  t.throws(() => new FrameDecoder({ maxFrameBytes: 1.5 }), RangeError);
});
