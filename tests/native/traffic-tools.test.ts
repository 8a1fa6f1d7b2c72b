// Loopback tests of the native traffic tools (mcrgen, mcrsink): a paced run
// arrives complete and intact, repeated seqs count as duplicates, damaged
// payloads are classified, a paced run makes up no more of a stall than
// --catch-up-us, and bad arguments fail with exit 2 and one line.
// Traffic stays on 127.0.0.1. The binaries come from the native build; a
// missing binary is a failure, not a skip.
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import t from 'tap';
import { execa } from 'execa';
import { nativeToolPath } from '../../tools/native-tool.js';

const mcrgen = nativeToolPath('mcrgen');
const mcrsink = nativeToolPath('mcrsink');

interface GenReport {
  sent: number;
  retries: number;
  errors: number;
  errorsByErrno: Record<string, number>;
  durationSec: number;
  pps: number;
  stream: number;
  size: number;
  firstSeq: number | null;
  lastSeq: number | null;
}

interface StreamReport {
  received: number;
  unique: number;
  lost: number;
  duplicated: number;
  reordered: number;
  maxSeq: number;
}

interface SinkReport {
  received: number;
  unique: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  corruptedByReason: Record<string, number>;
  bytes: number;
  durationSec: number;
  pps: number;
  minSize: number | null;
  maxSize: number | null;
  streams: Record<string, StreamReport>;
}

// A port the kernel just handed out and released: far less likely to clash
// with another test than a random number.
async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

interface Finished {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

interface RunningSink {
  finished: Promise<Finished>;
  stop: () => void;
}

// Starts mcrsink and resolves once it has printed {"event":"ready"} on
// stderr, i.e. its socket is bound: no sleeping before the generator starts.
// (The result is wrapped in an object: returning execa's promise itself from
// an async function would wait for the sink to exit.)
async function startSink(args: string[]): Promise<RunningSink> {
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const proc = execa(mcrsink, args, {
    reject: false,
    timeout: 60_000,
    // Sees each stderr line as it arrives and passes it on unchanged.
    stderr: function* (line: unknown): Generator<unknown, void, void> {
      if (String(line).trim() === '{"event":"ready"}') onReady();
      yield line;
    },
  });
  const finished = proc.then((r) => ({
    exitCode: r.exitCode,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  }));
  const exitedEarly = finished.then((r) => {
    throw new Error(`mcrsink exited (${String(r.exitCode)}) before ready: ${r.stderr}`);
  });
  exitedEarly.catch(() => {}); // rejects on every normal exit too; only the race below cares
  await Promise.race([ready, exitedEarly]);
  return { finished, stop: () => proc.kill('SIGTERM') };
}

async function runGen(args: string[]): Promise<{ exitCode?: number; report: GenReport }> {
  const r = await execa(mcrgen, args, { reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as GenReport };
}

t.test('native tools are built', async (t) => {
  t.ok(existsSync(mcrgen), `${mcrgen} exists (run npm run build)`);
  t.ok(existsSync(mcrsink), `${mcrsink} exists (run npm run build)`);
});

t.test('2000 paced 1400-byte packets arrive complete and intact', async (t) => {
  const port = String(await freeUdpPort());
  const sink = await startSink([
    ...['--port', port, '--bind', '127.0.0.1'],
    ...['--count', '2000', '--duration', '20'],
  ]);
  const gen = await runGen([
    ...['--dest', '127.0.0.1', '--port', port],
    ...['--count', '2000', '--size', '1400', '--rate', '50000'],
  ]);
  if (gen.exitCode !== 0) sink.stop();
  const result = await sink.finished;

  t.equal(gen.exitCode, 0, 'mcrgen exits 0');
  t.equal(gen.report.sent, 2000, 'mcrgen sent 2000');
  t.equal(gen.report.errors, 0, 'no send errors');
  t.equal(gen.report.firstSeq, 0);
  t.equal(gen.report.lastSeq, 1999);

  t.equal(result.exitCode, 0, 'mcrsink exits 0');
  const s = JSON.parse(result.stdout) as SinkReport;
  t.equal(s.received, 2000, 'received 2000');
  t.equal(s.unique, 2000, 'all unique');
  t.equal(s.lost, 0, 'none lost');
  t.equal(s.corrupted, 0, 'none corrupted');
  t.equal(s.duplicated, 0, 'no duplicates');
  t.equal(s.bytes, 2000 * 1400);
  t.equal(s.minSize, 1400);
  t.equal(s.maxSize, 1400);
  t.equal(s.streams['1']?.maxSeq, 1999, 'stream 1 ends at seq 1999');
});

t.test('--gso sends UDP_SEGMENT batches that arrive as single, intact, ordered datagrams', async (t) => {
  const port = String(await freeUdpPort());
  // 2003 is not a multiple of 8: the last batch is a short one.
  const sink = await startSink([...['--port', port, '--bind', '127.0.0.1'], ...['--count', '2003', '--duration', '20']]);
  const gen = await runGen([...['--dest', '127.0.0.1', '--port', port],
    ...['--count', '2003', '--size', '300', '--rate', '50000', '--gso', '8', '--batch', '8']]);
  if (gen.exitCode !== 0) sink.stop();
  const result = await sink.finished;
  t.equal(gen.exitCode, 0, 'mcrgen exits 0');
  t.equal(gen.report.sent, 2003, 'counts datagrams, not messages');
  t.equal(gen.report.lastSeq, 2002);
  const s = JSON.parse(result.stdout) as SinkReport;
  t.equal(s.received, 2003, 'each datagram arrived on its own');
  t.equal(s.unique, 2003);
  t.equal(s.corrupted + s.duplicated + s.reordered, 0, 'intact, once, in order');
  t.equal(s.minSize, 300);
  t.equal(s.maxSize, 300);
});

t.test('--timestamp payloads verify, carry their send time, and --latency reports percentiles', async (t) => {
  const port = String(await freeUdpPort());
  const sink = await startSink([...['--port', port, '--bind', '127.0.0.1'], ...['--count', '1001', '--duration', '20', '--latency']]);
  const gen = await runGen([...['--dest', '127.0.0.1', '--port', port], ...['--count', '1000', '--size', '1400', '--rate', '20000', '--timestamp']]);
  t.equal(gen.report.sent, 1000);
  // One more, plain: verified, counted as untimed, not measured.
  const plainGen = await runGen([...['--dest', '127.0.0.1', '--port', port], ...['--count', '1', '--stream', '2']]);
  t.equal(plainGen.report.sent, 1);
  const s = JSON.parse((await sink.finished).stdout) as SinkReport & { latency: Record<string, number> | null };
  t.equal(s.received, 1001);
  t.equal(s.corrupted, 0, 'both formats verify');
  const l = s.latency;
  t.ok(l !== null, 'latency reported');
  t.equal(l?.count, 1000, 'every timestamped datagram measured');
  t.equal(l?.untimed, 1, 'the plain one is untimed');
  t.ok((l?.p50Us ?? 0) > 0 && (l?.p50Us ?? 0) <= (l?.p99Us ?? 0) && (l?.p99Us ?? 0) <= (l?.p999Us ?? 0) &&
    (l?.p999Us ?? 0) <= (l?.maxUs ?? 0), 'percentiles ordered');
});

t.test('without --latency the report says latency null, and a damaged send time is a bad checksum', async (t) => {
  const port = await freeUdpPort();
  const sink = await startSink([...['--port', String(port), '--bind', '127.0.0.1'], ...['--count', '1', '--duration', '20']]);
  // A timestamped payload (magic "MT") whose send time was altered after the
  // checksum was written: the checksum covers the send time.
  const relay = createSocket('udp4');
  const got = new Promise<Buffer>((resolve) => relay.once('message', (m) => resolve(m)));
  await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', () => resolve()));
  await runGen(['--dest', '127.0.0.1', '--port', String(relay.address().port), '--count', '1', '--timestamp']);
  const damaged = await got;
  t.equal(damaged.readUInt16BE(0), 0x4d54, 'timestamped magic "MT"');
  t.ok(damaged.readBigUInt64BE(18) > 1_600_000_000_000_000_000n, 'send time is CLOCK_REALTIME ns');
  damaged[25] = (damaged[25] ?? 0) ^ 1;
  await new Promise<void>((resolve, reject) => relay.send(damaged, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  relay.close();
  const s = JSON.parse((await sink.finished).stdout) as SinkReport & { latency: unknown };
  t.same(s.corruptedByReason, { too_short: 0, bad_magic: 0, bad_checksum: 1, bad_fill: 0 });
  t.equal(s.latency, null);
});

// Receives `count` datagrams on a fresh loopback socket while `send` runs
// mcrgen at its port, in arrival order (loopback keeps the order).
async function receiveFrom(count: number, send: (port: number) => Promise<unknown>): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  const all = new Promise<void>((resolve) => sock.on('message', (m) => { got.push(m); if (got.length === count) resolve(); }));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  try {
    await send(sock.address().port);
    // Bounded: a datagram that never comes shows as a short count, not a hang.
    await Promise.race([all, new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
  } finally {
    clearTimeout(timer);
    sock.close();
  }
  return got;
}

t.test('--timestamp stamps each datagram of a batch at its own send; one --gso message shares one stamp', async (t) => {
  const stamps = (ds: Buffer[]): bigint[] => ds.map((d) => d.readBigUInt64BE(18));
  // Two batches of 8 (no --rate: whole batches). Stamped once per sendmmsg
  // call, as before, the 8 of a batch would share one time.
  const one = stamps(await receiveFrom(16, (port) =>
    runGen(['--dest', '127.0.0.1', '--port', String(port), '--count', '16', '--batch', '8', '--timestamp'])));
  t.equal(one.length, 16, 'all 16 arrived');
  t.ok(one.every((s, i) => i === 0 || s > (one[i - 1] ?? 0n)), 'each datagram later than the one before it');
  // With --gso 8 the kernel cuts one message into the 8: they leave in one call.
  const gso = stamps(await receiveFrom(16, (port) =>
    runGen(['--dest', '127.0.0.1', '--port', String(port), '--count', '16', '--batch', '8', '--gso', '8', '--timestamp'])));
  t.equal(gso.length, 16, 'all 16 arrived');
  t.equal(new Set(gso.slice(0, 8)).size, 1, 'the first message\'s 8 share a stamp');
  t.ok((gso[8] ?? 0n) > (gso[7] ?? 0n), 'the second message is stamped at its own send');
});

t.test('a second run of the same stream counts as duplicates', async (t) => {
  const port = String(await freeUdpPort());
  const sink = await startSink([
    ...['--port', port, '--bind', '127.0.0.1'],
    ...['--count', '200', '--duration', '20'],
  ]);
  for (let run = 0; run < 2; run++) {
    const gen = await runGen([
      ...['--dest', '127.0.0.1', '--port', port],
      ...['--count', '100', '--stream', '7'],
    ]);
    t.equal(gen.report.sent, 100, `run ${run + 1} sent 100`);
  }
  const s = JSON.parse((await sink.finished).stdout) as SinkReport;
  t.equal(s.received, 200);
  t.equal(s.unique, 100);
  t.equal(s.duplicated, 100);
  t.equal(s.lost, 0);
  t.same(s.streams['7'], {
    received: 200,
    unique: 100,
    lost: 0,
    duplicated: 100,
    reordered: 0,
    maxSeq: 99,
  });
});

t.test('damaged payloads are counted by reason', async (t) => {
  const port = await freeUdpPort();
  const sink = await startSink([
    ...['--port', String(port), '--bind', '127.0.0.1'],
    ...['--count', '3', '--duration', '20'],
  ]);
  const shortOne = Buffer.alloc(10);
  const noMagic = Buffer.alloc(64);
  const badSum = Buffer.alloc(64);
  badSum.writeUInt16BE(0x4d43, 0); // right magic, checksum and fill all zero
  const sock = createSocket('udp4');
  for (const payload of [shortOne, noMagic, badSum]) {
    await new Promise<void>((resolve, reject) =>
      sock.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  }
  sock.close();
  const s = JSON.parse((await sink.finished).stdout) as SinkReport;
  t.equal(s.received, 3);
  t.equal(s.corrupted, 3);
  t.equal(s.unique, 0);
  t.same(s.corruptedByReason, { too_short: 1, bad_magic: 1, bad_checksum: 1, bad_fill: 0 });
  t.equal(s.minSize, 10);
  t.equal(s.maxSize, 64);
});

// mcrgen --catch-up-us: how much of a stall of its own a paced run makes up
// with a burst. The run is stopped (SIGSTOP) for about 200 ms once its first
// datagram arrived. Without catch-up the stopped time is lost (5 per ms at
// 5 kpps); with 100 ms of catch-up only what exceeds 100 ms is. The stop is
// timed here, so the expectation follows the real stop, not the planned one.
t.test('--catch-up-us bounds how much of a stall mcrgen makes up', async (t) => {
  const sock = createSocket('udp4');
  let arrived: () => void = () => {};
  sock.on('message', () => arrived());
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  t.teardown(() => sock.close());
  const rate = 5000;
  const seconds = 1.2;
  const run = async (catchUpUs: number): Promise<{ sent: number; stoppedMs: number }> => {
    const first = new Promise<void>((resolve) => { arrived = resolve; });
    const proc = execa(mcrgen, ['--dest', '127.0.0.1', '--port', String(sock.address().port), '--rate', String(rate),
      '--duration', String(seconds), '--catch-up-us', String(catchUpUs)], { reject: false, timeout: 30_000 });
    const pid = proc.pid;
    if (pid === undefined || pid <= 0) throw new Error('mcrgen did not start');
    await first;
    await new Promise((r) => setTimeout(r, 100));
    const stopAt = performance.now();
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 200));
    const stoppedMs = performance.now() - stopAt;
    process.kill(pid, 'SIGCONT');
    const r = await proc;
    t.equal(r.exitCode, 0, `--catch-up-us ${catchUpUs}: exit 0`);
    return { sent: (JSON.parse(String(r.stdout)) as GenReport).sent, stoppedMs };
  };
  const full = rate * seconds;
  const perMs = rate / 1000;
  const none = await run(0);
  const deep = await run(100_000);
  // Lost: the stopped time less what the bucket makes up (0.4 ms, two
  // batches, without catch-up; 100 ms with it), at 5 datagrams per ms.
  const lostNone = perMs * Math.max(0, none.stoppedMs - 0.4);
  const lostDeep = perMs * Math.max(0, deep.stoppedMs - 100);
  // Without catch-up the run also loses its own timer lateness, so only the
  // upper side is bounded there: the stop was not made up.
  t.ok(none.sent <= full - lostNone + 150,
    `without catch-up the ${none.stoppedMs.toFixed(0)} ms stop is lost (sent ${none.sent}, at most about ${Math.round(full - lostNone)})`);
  t.ok(Math.abs(full - deep.sent - lostDeep) <= 150,
    `with 100 ms of catch-up only the rest of the ${deep.stoppedMs.toFixed(0)} ms stop is lost (sent ${deep.sent}, expected about ${Math.round(full - lostDeep)})`);
});

t.test('bad arguments exit 2 with one stderr line naming the option', async (t) => {
  const dest = ['--dest', '127.0.0.1', '--port', '9', '--count', '1'];
  const cases: Array<[string, string[], RegExp]> = [
    [mcrgen, [...dest, '--size', '5'], /^mcrgen: --size: expected an integer 18\.\.8972, got "5"$/],
    [mcrgen, [...dest, '--rate', 'x'], /^mcrgen: --rate: expected an integer 0\.\.100000000, got "x"$/],
    [mcrgen, [...dest, '--catch-up-us', '100001'], /^mcrgen: --catch-up-us: expected an integer 0\.\.100000, got "100001"$/],
    [mcrgen, [...dest, '--timestamp', '--size', '20'], /^mcrgen: --size: with --timestamp at least 26 bytes/],
    [mcrgen, [...dest, '--timestamp', '--rtp'], /^mcrgen: --timestamp: .*not with --rtp/],
    [mcrgen, ['--dest', '127.0.0.1', '--port', '9'], /^mcrgen: .*--count.*--duration/],
    [mcrgen, ['--dest', '300.1.1.1', '--port', '9', '--count', '1'], /^mcrgen: --dest: /],
    [mcrsink, ['--count', '1'], /^mcrsink: --port: /],
    [mcrsink, ['--port', '9', '--count', '1', '--group', '10.0.0.1'], /^mcrsink: --group: /],
  ];
  for (const [bin, args, pattern] of cases) {
    const r = await execa(bin, args, { reject: false, timeout: 10_000 });
    const label = `${bin.split('/').pop() ?? bin} ${args.join(' ')}`;
    t.equal(r.exitCode, 2, `${label}: exit 2`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    t.equal(lines.length, 1, `${label}: one stderr line`);
    t.match(lines[0] ?? '', pattern, `${label}: names the option`);
    t.equal(r.stdout, '', `${label}: nothing on stdout`);
  }
});

t.test('a send error that stops mcrgen: the report, then one stderr line naming the errno, exit 1', { skip: process.getuid?.() === 0 ? false : 'needs root (a network namespace)' }, async (t) => {
  // A namespace of its own with no route at all (lo down): every send is ENETUNREACH.
  const ns = `mcr-generr-${process.pid}`;
  await execa('ip', ['netns', 'add', ns]);
  t.teardown(() => execa('ip', ['netns', 'del', ns], { reject: false }));
  const r = await execa('ip', ['netns', 'exec', ns, mcrgen, '--dest', '239.1.1.1', '--port', '9', '--count', '10'], { reject: false, timeout: 10_000 });
  t.equal(r.exitCode, 1, 'exit 1');
  t.match(JSON.parse(r.stdout) as object, { sent: 0, errors: 1, errorsByErrno: { ENETUNREACH: 1 } }, 'the report first, on stdout');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, 'one stderr line');
  t.match(lines[0] ?? '', /^mcrgen: ENETUNREACH: send to 239\.1\.1\.1:9: .* — no route to the destination: check --interface and the routes$/, 'naming the errno and what to check');
});
