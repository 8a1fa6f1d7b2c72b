/**
 * The hung-worker watchdog, under traffic. The only worker of an interface
 * is SIGSTOPped in the middle of a steady stream: mcrd sees its heartbeat
 * stand still, kills it and starts a replacement, which forwards again. The
 * sink's arrival times give the outage; the stopped worker's ring is closed
 * with its socket, so nothing it held arrives late: every datagram after the
 * outage is newer than every one before it, in order. The stopped process
 * is gone, the replacement is a new pid, and `mcrctl workers` and the log
 * say why the worker was replaced.
 */
import t from 'tap';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { genReport, longestSilence, startMarkedStream } from '../harness.js';
import { mcrctl, mcrdLab, startMcrd, workersOf } from '../mcrd-harness.js';


t.test('SIGSTOP of a worker under traffic: detected, killed, replaced, forwarding back, no stale datagram', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'wdog');
  const socket = join(dir, 'mcrd.sock');
  // One worker: with two, the fan-out group would hand the flow to the other.
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));
  const add = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  t.equal(add.exitCode, 0, add.stderr);
  t.ok(await pollUntil(async () => (await workersOf(socket))[0]?.state === 'running', 15_000), 'the worker runs');
  const victim = (await workersOf(socket))[0]?.pid ?? 0;
  t.ok(victim > 0, 'a worker pid');
  t.teardown(() => {
    // Never left stopped, whatever happened.
    if (victim > 0 && existsSync(`/proc/${victim}`)) process.kill(victim, 'SIGKILL');
  });

  // 7 s of traffic, the stop after the first second. (The sink prints every
  // arrival on one JSON line: keep it to a few thousand.)
  const RATE = 1000;
  const COUNT = 7000;
  const { sink, gen, markedAt: stoppedAt } = await startMarkedStream(rl, { rate: RATE, count: COUNT, mark: 1000, durationMs: 40_000 });
  process.kill(victim, 'SIGSTOP');

  const hungLine = await mcrd.waitForLine('stdout', /"msg":"[^"]*hung[^"]*"/i, 10_000);
  const detectedMs = (JSON.parse(hungLine) as { time: number }).time - stoppedAt;
  t.comment(`mcrd logged the hung worker ${detectedMs} ms after SIGSTOP: ${hungLine}`);
  t.ok(detectedMs <= 2_500, `detected within 2 s of the stall, plus the log's own delay (${detectedMs} ms)`);
  t.ok(await pollUntil(async () => !existsSync(`/proc/${victim}`), 5_000, 50), 'the stopped worker is gone (killed, reaped)');

  t.equal((await genReport(gen)).sent, COUNT, 'the generator sent its whole stream');
  const { arrivals } = JSON.parse(await sink.waitForLine('stdout', /^\{/, 40_000)) as { arrivals: Array<[number, number]> };

  const { at: gapAt, last: [lastSeq, lastT], resume: [resumeSeq, resumeT] } = longestSilence(arrivals);
  const resumedAfterMs = resumeT - stoppedAt;
  t.comment(`stop at +0, last datagram before at ${lastT - stoppedAt} ms (seq ${lastSeq}), first after at ${resumedAfterMs} ms (seq ${resumeSeq}), ` +
    `${arrivals.length} of ${COUNT} received`);
  t.ok(lastT - stoppedAt < 300, 'the outage starts at the stop');
  // The figure is 3 s; the bound leaves room for a loaded machine,
  // the comment above gives the measured value.
  t.ok(resumedAfterMs > 0 && resumedAfterMs <= 6_000, `forwarding back ${resumedAfterMs} ms after the stop`);

  const after = arrivals.slice(gapAt + 1).map(([seq]) => seq);
  const stale = after.filter((seq) => seq <= lastSeq);
  t.same(stale, [], 'no datagram from before the outage arrived after it (the stopped ring was discarded, not sent late)');
  const disorder = after.findIndex((seq, i) => i > 0 && seq <= (after[i - 1] ?? -1));
  t.equal(disorder, -1, 'after the outage, datagrams arrive in order');
  t.ok(after.length > 1000, `forwarding went on after the replacement (${after.length} datagrams)`);

  for (const line of mcrd.stdoutLines) {
    const m = /"time":(\d+).*"msg":"([^"]*)"/.exec(line);
    if (m && Number(m[1]) >= stoppedAt) t.comment(`+${Number(m[1]) - stoppedAt} ms: ${m[2]}`);
  }
  const worker = (await workersOf(socket))[0];
  t.equal(worker?.state, 'running', 'the replacement runs');
  t.not(worker?.pid, victim, 'a new process');
  t.ok((worker?.restarts ?? 0) >= 1, 'the replacement is counted as a restart');
  const shown = await mcrctl(socket, ['workers']);
  t.match(shown.stdout, /hung/i, 'mcrctl workers says the last one was replaced as hung');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
