/**
 * mcrd under a real $NOTIFY_SOCKET (a unix datagram listener standing in
 * for systemd, tests/fixtures/notify-listener.py), with a stream running
 * from before mcrd starts:
 *
 * - READY=1 comes once both workers forward: its STATUS says 2/2, nothing
 *   before it said READY, and the sink's first datagram arrives before or
 *   within a second after it; the workers do not inherit NOTIFY_SOCKET;
 * - STATUS= is refreshed with the input rate;
 * - `mcrctl reload` sends RELOADING=1 (with a MONOTONIC_USEC of the same
 *   clock) then READY=1; a refused file makes `mcrctl reload` exit 1 with
 *   the error, still RELOADING/READY, the rules unchanged; SIGHUP does the
 *   same reload; through all of it the running stream loses nothing;
 * - SIGTERM sends STOPPING=1.
 */
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess } from '../../bench/lab/index.js';
import { ROOT, genReport, startGen, type Arrivals } from './harness.js';
import { MCRD, mcrctl, mcrdLab, workersOf } from './mcrd-harness.js';

const LISTENER = join(ROOT, 'tests', 'fixtures', 'notify-listener.py');
// Debian's own interpreter (.ci/run installs python3); a version manager's shim in PATH can take seconds to start.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const ARRIVAL_SINK = join(ROOT, 'dist', 'tests', 'fixtures', 'arrival-sink.js');
const RULE_A = `{ name: "a", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
  outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] }`;
const RULE_B = `{ name: "b", inputInterface: "in0", inputGroup: "239.1.1.2", inputPort: 5002,
  outputs: [{ group: "239.2.2.3", port: 6002, interface: "out0" }] }`;

interface Note { atMs: number; monotonicUsec: number; message: string }

/** The datagrams received so far, parsed. */
function notes(listener: LabProcess): Note[] {
  return listener.stdoutLines.filter((l) => l.startsWith('{"atMs"')).map((l) => JSON.parse(l) as Note);
}

/** Waits for the n-th datagram (1-based) that matches re, and returns every datagram up to it. */
async function noteMatching(listener: LabProcess, re: RegExp, nth: number, timeoutMs: number): Promise<Note[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const all = notes(listener);
    let seen = 0;
    const i = all.findIndex((n) => re.test(n.message) && ++seen === nth);
    if (i >= 0) return all.slice(0, i + 1);
    if (Date.now() > end) throw new Error(`no datagram #${nth} matching ${String(re)} within ${timeoutMs} ms; got ${JSON.stringify(all.map((n) => n.message))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('READY after the workers forward, STATUS, RELOADING/READY around reloads, STOPPING; no loss across a refused reload', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'notify');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  const notifySocket = join(dir, 'notify.sock');
  writeFileSync(config, `{ rules: [ ${RULE_A} ] }\n`);
  const listener = rl.lab.spawn(rl.relay.ns, PYTHON, [LISTENER, notifySocket, '60']);
  await listener.waitForLine('stdout', /"event": "listening"/, 20_000);

  // The stream runs from before mcrd starts, at 3000 pps, until the test stops
  // it after the last reload (mcrgen reports on SIGTERM): it spans every step
  // by construction rather than by a fixed 20 s. CAP (60 s) only bounds it.
  const CAP = 180_000;
  const sink = rl.lab.spawn(rl.sinks[0]?.ns ?? '', process.execPath, [ARRIVAL_SINK, '--group', '239.2.2.2', '--port', '6000',
    '--address', rl.sinks[0]?.addr ?? '', '--mark', '1', '--idle', '4000', '--duration', '60000']);
  await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: CAP, rate: 3000, size: 100 });
  const mcrd = rl.lab.spawn(rl.relay.ns, 'env', [`NOTIFY_SOCKET=${notifySocket}`, process.execPath, MCRD, '--config', config,
    '--control-socket', socket, '--workers', '2']);

  t.teardown(() => {
    if (t.passing()) return;
    t.comment(`mcrd's warnings and errors:\n${mcrd.stdoutLines.filter((l) => !l.includes('"level":30')).join('\n')}\n${mcrd.stderrLines.join('\n')}`);
  });
  // Worker starts take seconds on a loaded 2-core machine; a slow one is retried after 10 s.
  const untilReady = await noteMatching(listener, /^READY=1$/m, 1, 40_000);
  const ready = untilReady.at(-1) as Note;
  t.match(ready.message, /^STATUS=1 rule, 2\/2 workers forwarding$/m, 'READY=1 says both workers forward');
  t.equal(untilReady.filter((n) => /READY=1/.test(n.message)).length, 1, 'nothing said READY before');
  t.ok(untilReady.slice(0, -1).every((n) => /^STATUS=starting: /.test(n.message)), 'what came before READY were starting statuses');
  const workers = await workersOf(socket);
  t.same(workers.map((w) => w.state), ['running', 'running'], 'both workers running');
  for (const w of workers) {
    t.notMatch(readFileSync(`/proc/${w.pid}/environ`, 'utf8'), /NOTIFY_SOCKET=/, `worker ${w.id} has no NOTIFY_SOCKET`);
  }
  const first = JSON.parse(await sink.waitForLine('stderr', /"event":"mark"/, 10_000)) as { atMs?: number };
  void first;

  // A status with the input rate within one refresh period (5 s) and a margin.
  await noteMatching(listener, /^STATUS=1 rule, 2\/2 workers forwarding, [\d.]+ k?pps in$/m, 1, 12_000);

  // mcrctl reload with a rule added: RELOADING=1 (MONOTONIC_USEC) then READY=1.
  writeFileSync(config, `{ rules: [ ${RULE_A}, ${RULE_B} ] }\n`);
  const added = await mcrctl(socket, ['reload']);
  t.equal(added.exitCode, 0, `mcrctl reload exits 0 (${added.stderr})`);
  const reload1 = await noteMatching(listener, /^READY=1$/m, 2, 5_000);
  const reloading = reload1.filter((n) => /^RELOADING=1$/m.test(n.message));
  t.equal(reloading.length, 1, 'one RELOADING=1 before the second READY=1');
  const usec = Number(/^MONOTONIC_USEC=(\d+)$/m.exec(reloading[0]?.message ?? '')?.[1] ?? 0);
  t.ok(Math.abs(usec - (reloading[0]?.monotonicUsec ?? 0)) < 5_000_000, 'MONOTONIC_USEC is CLOCK_MONOTONIC (within 5 s of the listener\'s reading)');

  // A refused file: mcrctl reload exits 1 with the error, RELOADING/READY still, the rules unchanged.
  writeFileSync(config, '{ rules: [ { name: "a" ');
  const refused = await mcrctl(socket, ['reload']);
  t.equal(refused.exitCode, 1, 'mcrctl reload exits 1 for a refused file');
  t.match(refused.stderr, /^mcrctl: ERR_MCR_CONFIG\w*: .*mcrd\.json5/, 'with the error, naming the file');
  await noteMatching(listener, /^READY=1$/m, 3, 5_000);
  t.equal(notes(listener).filter((n) => /^RELOADING=1$/m.test(n.message)).length, 2, 'RELOADING=1 for the refused reload too');
  const list = JSON.parse((await mcrctl(socket, ['--json', 'list'])).stdout) as { rules: Array<{ name?: string }> };
  t.same(list.rules.map((r) => r.name), ['a', 'b'], 'the running rules are unchanged');

  // SIGHUP: the same reload, logged with its result.
  writeFileSync(config, `{ rules: [ ${RULE_A} ] }\n`);
  mcrd.process.kill('SIGHUP');
  await mcrd.waitForLine('stdout', /"removed":1,"changed":0,"unchanged":1.*"msg":"configuration reloaded"/, 10_000);
  await noteMatching(listener, /^READY=1$/m, 4, 5_000);

  t.notOk(gen.exited, 'the stream was still running after the last reload');
  await gen.stop('SIGTERM', 10_000);
  const sent = (await genReport(gen)).sent;
  t.ok(sent > 0 && sent < CAP, `the generator was stopped by the test after ${sent} datagrams`);
  const { arrivals } = JSON.parse(await sink.waitForLine('stdout', /^\{/, 30_000)) as { arrivals: Arrivals };
  const [firstSeq, firstAt] = arrivals[0] ?? [0, 0];
  t.comment(`first datagram forwarded ${Math.round(firstAt - ready.atMs)} ms after READY=1 (seq ${firstSeq}); ${arrivals.length} arrivals`);
  t.ok(firstAt <= ready.atMs + 1000, 'the stream was forwarded before, or within a second after, READY=1');
  const seen = new Set(arrivals.map(([seq]) => seq));
  let missing = 0;
  for (let seq = firstSeq; seq < sent; seq++) if (!seen.has(seq)) missing++;
  t.equal(missing, 0, 'from its first forwarded datagram on, the stream lost nothing across the three reloads');

  const stopped = await mcrd.stop('SIGTERM', 20_000);
  t.equal(stopped.exitCode, 0, 'mcrd stops cleanly');
  const last = notes(listener).at(-1);
  t.match(last?.message, /^STOPPING=1$/m, 'STOPPING=1 was the last word');
});
