/**
 * mcrd killed with SIGKILL under traffic (issue 12, "faults the daemon
 * survives"): every worker exits within 1 s (PR_SET_PDEATHSIG, so no
 * orphan keeps forwarding a stale ruleset), and a new mcrd started with the
 * same config and socket takes over: it replaces the stale socket file,
 * removes the consume filter the dead mcrd left on the input interface and
 * installs its own (exactly one), and forwards the stream again.
 */
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { CONSUME_PREF } from '../../../supervisor/net/input-filters.js';
import { genReport, runGen, sinkReport, startGen, startSink } from '../harness.js';
import { mcrctl, mcrdLab, startMcrd, workersOf } from '../mcrd-harness.js';

/** Running, as opposed to gone or a zombie waiting for init to reap it (it forwards nothing either way). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

t.test('mcrd killed with SIGKILL under traffic: workers go within 1 s, the next mcrd takes over', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'crash');
  const file = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(file, JSON.stringify({ rules: [{ name: 'c', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  const args = ['--config', file, '--control-socket', socket, '--workers', '2', '--consume-inputs'];
  const first = await startMcrd(rl, args);
  t.teardown(() => first.stop('SIGKILL', 5_000).catch(() => undefined));
  t.ok(await pollUntil(async () => (await workersOf(socket)).every((w) => w.state === 'running'), 15_000), 'two workers running');
  const pids = (await workersOf(socket)).map((w) => w.pid).filter((pid) => pid > 0);
  t.equal(pids.length, 2);

  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1_000_000, duration: 40, idle: 15 });
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 2_000, size: 100 });
  await sink.waitForLine('stderr', /ready/, 1000);
  const killedAt = Date.now();
  await first.stop('SIGKILL', 5_000);
  // The second counts from when this process saw mcrd gone, not from the
  // kill: on a loaded machine that sight itself can come late.
  const seenDeadAt = Date.now();
  const gone = await pollUntil(async () => pids.every((pid) => !alive(pid)), 1_000, 20);
  t.ok(gone, `every worker exited within 1 s of mcrd's death (${Date.now() - killedAt} ms after the kill, ${Date.now() - seenDeadAt} ms after its exit was seen)`);
  t.ok(existsSync(socket), 'the dead mcrd left its socket file');

  const second = await startMcrd(rl, args);
  t.teardown(() => second.stop('SIGKILL', 5_000).catch(() => undefined));
  t.equal((await mcrctl(socket, ['ping'])).exitCode, 0, 'the new mcrd answers on the same socket path');
  const filters = (await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'show', 'dev', 'in0', 'ingress'])).stdout;
  t.equal(filters.match(new RegExp(`pref ${CONSUME_PREF} bpf chain \\d+ handle`, 'g'))?.length ?? 0, 1, `exactly one consume filter: the old one removed, the new one installed (${filters})`);
  t.equal((await genReport(gen)).sent, 20_000);

  // After the takeover, a fresh burst is forwarded in full.
  const burst = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2_000, duration: 20, idle: 1 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2_000, rate: 10_000, size: 100, stream: 2 });
  t.equal((await sinkReport(burst)).received, 2_000, 'the new mcrd forwards every datagram');
  // The burst went in after the whole stream, through the same input and mcrd:
  // with all of it at its sink, the stream's sink has every datagram it will
  // get, so it is stopped now rather than after 15 s of silence (its --idle is
  // that long only so that the outage cannot end it). It heard the burst too:
  // only stream 1 counts.
  await sink.stop('SIGTERM', 5_000);
  const report = JSON.parse(await sink.waitForLine('stdout', /^\{/, 5_000)) as { streams: Record<string, { received: number; lost: number }> };
  const got = report.streams['1'] ?? { received: 0, lost: 20_000 };
  t.ok(got.received > 0 && got.lost < 20_000, `the stream was forwarded around the crash (${got.received} received)`);
  t.equal((await second.stop('SIGTERM', 20_000)).exitCode, 0);
});
