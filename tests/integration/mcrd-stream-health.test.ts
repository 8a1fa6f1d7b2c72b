/**
 * Stream health end to end, through the real mcrd, mcrgen and mcrctl in a
 * namespace lab. Payload analysis: mcrgen injects gaps, duplicates,
 * reorders (RTP) and skipped continuity counters (MPEG-TS), deterministic
 * and counted, and `mcrctl stats --json` shows exactly as many of each for
 * the rule (RTP, MPEG-TS, and TS in RTP where one lost datagram is one RTP
 * loss and one CC error on each of its two PIDs). Loss of signal: a rule
 * with a 500 ms signal timeout is up while its generator sends, goes down
 * once it stops (the change time at least the timeout after the last
 * arrival), comes up again with the next datagram; each change is one log
 * line; `mcrctl list` and `stats` show the state.
 */
import t from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { TOOL } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';
import type { ListRulesResult, RuleStats, StatsResult } from '../../proto/index.js';

interface GenOut {
  sent: number;
  firstSeq: number | null;
  lastSeq: number | null;
  impaired: { gap: number; dup: number; reorder: number; cc: number };
}

function genArgs(rl: RelayLab, group: string, port: number, count: number, rate: number, extra: string[]): string[] {
  return ['--dest', group, '--port', String(port), '--interface', rl.src.ifname, '--count', String(count), '--rate', String(rate),
    '--duration', '60', ...extra];
}

async function gen(rl: RelayLab, group: string, port: number, count: number, extra: string[]): Promise<GenOut> {
  const r = await rl.lab.exec(rl.src.ns, TOOL('mcrgen'), genArgs(rl, group, port, count, 4000, extra), { timeoutMs: 70_000 });
  return JSON.parse(r.stdout) as GenOut;
}

/** mcrd's log lines with this message for this rule. */
function logged(mcrd: LabProcess, msg: string, rule: number): number {
  return mcrd.stdoutLines.filter((l) => l.includes(`"msg":"${msg}`) && l.includes(`"rule":${rule},`)).length;
}

t.test('monitor counts exactly what mcrgen injects; signal goes down and up, logged once each', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'health');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));
  const add = (group: string, port: number, name: string, extra: string[]): Promise<{ rule: { id: number } }> =>
    mcrctlJson(socket, ['add', '--input-interface', 'in0', '--input-group', group, '--input-port', String(port),
      '--outputs', `239.2.2.2:${port + 1000}:out0`, '--name', name, ...extra]);
  const rtp = (await add('239.1.1.1', 5000, 'rtp', ['--monitor', 'rtp', '--signal-timeout', '500'])).rule.id;
  const ts = (await add('239.1.1.2', 5002, 'ts', ['--monitor', 'mpegts'])).rule.id;
  const both = (await add('239.1.1.3', 5004, 'ts-in-rtp', ['--monitor', 'rtp+mpegts', '--signal-timeout', '0'])).rule.id;

  const before = await mcrctlJson<StatsResult>(socket, ['stats']);
  const ruleOf = (s: StatsResult, id: number): RuleStats | undefined => s.rules.find((r) => r.ruleId === id);
  t.equal(ruleOf(before, rtp)?.streamState, 'down', 'before its first datagram the stream is down');
  t.equal(ruleOf(before, both)?.streamState, 'off', 'signal timeout 0: not watched');
  t.same(ruleOf(before, rtp)?.monitor, { rtpLost: 0, rtpDuplicates: 0, rtpReordered: 0, rtpSsrcChanges: 0, rtpInvalid: 0, rtpJitterUs: 0,
    tsSyncByteErrors: 0, tsSyncLosses: 0, tsCcErrors: 0, tsPidOverflow: 0 }, 'monitor counts exist at 0');

  const a = await gen(rl, '239.1.1.1', 5000, 2000, ['--rtp', '--impair', 'gap=97,dup=89,reorder=83']);
  const b = await gen(rl, '239.1.1.2', 5002, 1000, ['--mpegts', '--impair', 'cc=50']);
  const c = await gen(rl, '239.1.1.3', 5004, 1000, ['--rtp', '--mpegts', '--impair', 'gap=100']);
  t.ok(a.impaired.gap > 10 && a.impaired.dup > 10 && a.impaired.reorder > 10, `injected into RTP: ${JSON.stringify(a.impaired)}`);
  t.ok(b.impaired.cc > 10 && c.impaired.gap > 5, `injected into TS: ${JSON.stringify(b.impaired)}, ${JSON.stringify(c.impaired)}`);
  // A gap uses up a number, a duplicate repeats one; the clean tail ends the run in order.
  t.same([a.firstSeq, a.lastSeq], [0, a.sent + a.impaired.gap - a.impaired.dup - 1], 'the report\'s last sequence counts gaps and duplicates');
  t.same([c.firstSeq, c.lastSeq], [0, c.sent + c.impaired.gap - 1], 'and gaps in TS in RTP');

  // Every datagram counted on input, then the counts.
  let stats = before;
  const arrived = await pollUntil(async () => {
    stats = await mcrctlJson<StatsResult>(socket, ['stats']);
    return ruleOf(stats, rtp)?.packets === a.sent && ruleOf(stats, ts)?.packets === b.sent && ruleOf(stats, both)?.packets === c.sent;
  }, 10_000, 200);
  t.ok(arrived, `every datagram arrived: ${[rtp, ts, both].map((id) => ruleOf(stats, id)?.packets).join(', ')} of ${a.sent}, ${b.sent}, ${c.sent}`);
  const m = ruleOf(stats, rtp)?.monitor;
  t.equal(m?.rtpLost, a.impaired.gap, 'RTP: every gap counted as one lost');
  t.equal(m?.rtpDuplicates, a.impaired.dup, 'RTP: every duplicate counted');
  t.equal(m?.rtpReordered, a.impaired.reorder, 'RTP: every reorder counted');
  t.equal(m?.rtpSsrcChanges, 0, 'RTP: one source');
  t.equal(m?.rtpInvalid, 0, 'RTP: every header parsed');
  t.ok(m !== undefined && m.rtpJitterUs >= 0 && Number.isFinite(m.rtpJitterUs), `RTP jitter ${m?.rtpJitterUs} µs`);
  const mt = ruleOf(stats, ts)?.monitor;
  t.equal(mt?.tsCcErrors, b.impaired.cc, 'TS: every skipped counter is one CC error');
  t.equal(mt?.tsSyncByteErrors, 0, 'TS: sync bytes intact');
  t.equal(mt?.rtpInvalid, 0, 'TS alone: no RTP analysis');
  const mb = ruleOf(stats, both)?.monitor;
  t.equal(mb?.rtpLost, c.impaired.gap, 'TS in RTP: a lost datagram is one RTP loss');
  t.equal(mb?.tsCcErrors, 2 * c.impaired.gap, 'TS in RTP: and one CC error on each of its two PIDs');

  // Loss of signal. The generator has stopped: down after its 500 ms.
  const down = await pollUntil(async () => ruleOf(await mcrctlJson<StatsResult>(socket, ['stats']), rtp)?.streamState === 'down', 10_000, 100);
  t.ok(down, 'the RTP rule went down after its generator stopped');
  t.equal(logged(mcrd, 'stream up', rtp), 1, 'its coming up was logged once');
  t.equal(logged(mcrd, 'stream down', rtp), 1, 'its going down was logged once');
  const downLine = JSON.parse(mcrd.stdoutLines.find((l) => l.includes('"msg":"stream down') && l.includes(`"rule":${rtp},`)) ?? '{}') as
    { level?: number; silentMs?: number; signalTimeoutMs?: number };
  t.equal(downLine.level, 40, 'down is a warning');
  t.ok((downLine.silentMs ?? 0) >= 500, `down only after the timeout: ${downLine.silentMs} ms without a datagram`);
  t.equal(logged(mcrd, 'stream up', both), 0, 'an unwatched rule logs no change');

  // Up again with the next datagram; list and stats show it.
  const again = rl.lab.spawn(rl.src.ns, TOOL('mcrgen'), genArgs(rl, '239.1.1.1', 5000, 40_000, 1000, ['--rtp']));
  t.teardown(() => again.stop('SIGTERM', 5000).then(() => undefined));
  t.ok(await pollUntil(async () => logged(mcrd, 'stream up', rtp) === 2, 10_000, 100), 'up again once datagrams arrive, logged');
  // The events say how long it was down (from the poll that saw it go down to the one that saw it back).
  const { events } = await mcrctlJson<{ events: Array<{ kind: string; fields: { rule?: number; downMs?: number } }> }>(socket, ['events']);
  const ups = events.filter((e) => e.kind === 'stream.up' && e.fields.rule === rtp);
  t.equal(ups.length, 2, 'two stream.up events');
  t.equal(ups[0]?.fields.downMs, undefined, 'the first up has no down before it');
  t.ok((ups[1]?.fields.downMs ?? 0) > 0, `the second carries how long it was down: ${ups[1]?.fields.downMs} ms`);
  const list = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.equal(list.streams?.rules.find((s) => s.ruleId === rtp)?.state, 'up', 'list --json has the state');
  const text = await mcrctl(socket, ['list']);
  t.match(text.stdout, /STREAM/, 'list has a STREAM column');
  t.match(text.stdout.split('\n').find((l) => /\brtp\b/.test(l) && /239\.1\.1\.1/.test(l)) ?? '', /\bup \d+s\b/, 'the rule reads "up" with its age');
  const st = await mcrctl(socket, ['stats']);
  t.match(st.stdout, /RTP-LOST/, 'stats shows the monitor table');
  await again.stop('SIGTERM', 5000);
  t.ok(await pollUntil(async () => logged(mcrd, 'stream down', rtp) === 2, 10_000, 100), 'down again after the second stop, logged once more');
  await sleep(1500);
  t.equal(logged(mcrd, 'stream down', rtp), 2, 'a stream that stays down is not logged again');
});
