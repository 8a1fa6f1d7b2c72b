/**
 * `mcrctl top` without a real terminal: the model's rates from two samples
 * (and '-' where there is no earlier sample or a counter went back), the
 * stream state and RTP/TS counts when mcrd sends them and '-' when not,
 * the sort keys, the renderer cut to a terminal's size; the command in
 * snapshot mode against a fake mcrd (plain text, --count, status 1 when
 * mcrd is absent) and in full-screen mode on a fake terminal (raw mode and
 * alternate screen taken and given back on `q`, and while mcrd is away
 * the screen says so and top keeps trying).
 */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { runMcrctl } from '../../tools/mcrctl/commands.js';
import { buildView, perSecond, sortBlocks, type TopSample } from '../../tools/mcrctl/top-model.js';
import { renderTop } from '../../tools/mcrctl/top-render.js';
import type { Rule, RuleStats, StatsResult, WorkerInfo } from '../../proto/index.js';
import { socketPath, startControlServer, stubHandler } from './control-fixture.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const RULES: Rule[] = [
  { id: 1, name: 'cam', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }, { group: '10.0.0.9', port: 7000, interface: 'out1' }] },
  { id: 2, inputInterface: 'in0', inputGroup: '239.1.1.2', inputPort: 5002, outputs: [{ group: '239.2.2.3', port: 6002, interface: 'out0' }] },
];
const WORKERS: WorkerInfo[] = [
  { id: 'in0/0', interface: 'in0', core: 0, pid: 100, state: 'running', restarts: 2, generation: 1, logLevel: 'info', startedAtMs: NOW },
  { id: 'in0/1', interface: 'in0', core: 1, pid: 0, state: 'restarting', restarts: 1, generation: 1, logLevel: 'info', startedAtMs: NOW },
];

function ruleStats(id: number, packets: number, size: number, extra: Record<string, unknown> = {}): RuleStats {
  const rule = RULES.find((r) => r.id === id)!;
  return { ruleId: id, packets, bytes: packets * size, errors: id === 1 ? 3 : 0, ...extra,
    outputs: rule.outputs.map((_, i) => ({ packets, bytes: packets * size, errors: id === 1 && i === 1 ? 3 : 0,
      errorsByErrno: id === 1 && i === 1 ? { ENOBUFS: 2, EHOSTUNREACH: 1 } : {} })) } as RuleStats;
}

function sample(atMs: number, packets: [number, number], extra: Record<string, unknown> = {}, drops = 0): TopSample {
  const stats: StatsResult = { rules: [ruleStats(1, packets[0], 1316, extra), ruleStats(2, packets[1], 100)],
    workers: [{ worker: 'in0/0', interface: 'in0', received: packets[0] + packets[1], kernelDrops: drops, restarts: 2, loop: {} }], inputs: [], outputInterfaces: [] };
  return { atMs, wallMs: NOW + atMs, stats, rules: RULES, workers: WORKERS };
}

t.test('rates come from two samples; none without an earlier one or when a counter went back', async (t) => {
  t.equal(perSecond(undefined, 10, 1000), undefined);
  t.equal(perSecond(10, 5, 1000), undefined, 'a cleared counter has no rate');
  t.equal(perSecond(10, 20, 0), undefined);
  t.equal(perSecond(0, 500, 500), 1000);

  const first = buildView(undefined, sample(0, [1000, 10]));
  t.equal(first.blocks[0]?.rule.pps, undefined, 'first sample, and mcrd sent no pps: no rate');
  t.equal(first.blocks[0]?.rule.mbps, undefined);
  const view = buildView(sample(0, [1000, 10]), sample(2000, [3000, 10], {}, 4));
  const cam = view.blocks[0]!;
  t.equal(cam.rule.pps, 1000, '2000 packets in 2 s');
  t.equal(cam.rule.mbps, (1000 * 1316 * 8) / 1e6, 'Mbit/s from the bytes');
  t.equal(cam.outputs.length, 2);
  t.equal(cam.outputs[1]?.errnos, 'ENOBUFS 2, EHOSTUNREACH 1', 'errors by errno, most first');
  t.equal(cam.rule.errnos, 'ENOBUFS 2, EHOSTUNREACH 1');
  t.equal(view.blocks[1]?.rule.pps, 0, 'an idle rule has rate 0, not "-"');
  t.equal(cam.rule.state, '-', 'an mcrd that does not send a stream state: "-"');
  t.equal(cam.rule.rtp, '-');
  t.match(view, { workersRunning: 1, workers: 2, restarts: 3, rules: 2, totalPps: 1000, kernelDrops: 4 });
  t.match(view.inputs, [{ interface: 'in0', workersRunning: 1, workers: 2, framesPps: 1000, kernelDrops: 4, dropsPerSec: 2 }]);
  const withMcrdRate = buildView(undefined, { ...sample(0, [1000, 10]), stats: { ...sample(0, [1000, 10]).stats, rules: [{ ...ruleStats(1, 1000, 1316), pps: 42 }] } });
  t.equal(withMcrdRate.blocks[0]?.rule.pps, 42, "without an earlier sample, mcrd's own rate");
  const prev = sample(0, [1000, 10]);
  const cur = sample(2000, [3000, 10]);
  const timedByMcrd = buildView(prev, { ...cur, stats: { ...cur.stats, rules: [{ ...ruleStats(1, 3000, 1316), pps: 900 }] } });
  t.equal(timedByMcrd.blocks[0]?.rule.pps, 900, "mcrd's rate, timed at its counter read, wins over top's own");
  t.equal(timedByMcrd.blocks[0]?.rule.mbps, (900 * 1316 * 8) / 1e6, 'Mbit/s at that rate with the mean size');
  const noneSincePoll = buildView(cur, { ...cur, atMs: 2300, stats: { ...cur.stats, rules: [{ ...ruleStats(1, 3000, 1316), pps: 900 }] } });
  t.same([noneSincePoll.blocks[0]?.rule.pps, noneSincePoll.blocks[0]?.rule.mbps], [900, undefined],
    'mcrd\'s rate with no datagram since a poll 0.3 s ago: no Mbit/s ("-"), not 0 beside 900 pps');
});

t.test('stream state, its age and RTP/TS counts show when mcrd sends them', async (t) => {
  const extra = { streamState: 'down', streamChangedAtMs: NOW - 12_000, monitor: { rtpLost: 3, rtpDuplicates: 1, rtpReordered: 2, rtpSsrcChanges: 0, rtpInvalid: 0, rtpJitterUs: 12.5,
    tsSyncByteErrors: 4, tsSyncLosses: 0, tsCcErrors: 5, tsPidOverflow: 0 } };
  const both = (mode: string) => RULES.map((r) => (r.id === 1 ? { ...r, monitor: mode } : r));
  const view = buildView(undefined, { ...sample(0, [5, 5], extra), rules: both('rtp+mpegts'), wallMs: NOW });
  const row = view.blocks[0]!.rule;
  t.equal(row.state, 'down');
  t.equal(row.rtp, 'lost 3 dup 1 reord 2 ssrc 0');
  t.equal(row.ts, 'cc 5 sync 0');
  const lines = renderTop(view, { sort: 'name', intervalMs: 1000, nowMs: NOW });
  t.match(lines.join('\n'), /cam +in0 239\.1\.1\.1:5000 .*down 12s +lost 3 dup 1 reord 2 ssrc 0 +cc 5 sync 0/);
  // An RTP stream whose sender restarted 3 times: SSRC changes, no TS at all.
  const rtpOnly = { ...extra, monitor: { ...extra.monitor, rtpSsrcChanges: 3, tsSyncByteErrors: 0, tsCcErrors: 0 } };
  const rtpRow = buildView(undefined, { ...sample(0, [5, 5], rtpOnly), rules: both('rtp'), wallMs: NOW }).blocks[0]!.rule;
  t.equal(rtpRow.rtp, 'lost 3 dup 1 reord 2 ssrc 3');
  t.equal(rtpRow.ts, '-', 'a rule that does not monitor MPEG-TS shows "-" there, not its SSRC changes counted as cc');
  const tsRow = buildView(undefined, { ...sample(0, [5, 5], rtpOnly), rules: both('mpegts'), wallMs: NOW }).blocks[0]!.rule;
  t.same([tsRow.rtp, tsRow.ts], ['-', 'cc 0 sync 0'], 'and one that monitors only MPEG-TS: cc counts continuity errors alone');
});

t.test('sort keys: pps, errors, name; ties by id', async (t) => {
  const view = buildView(sample(0, [0, 0]), sample(1000, [10, 500]));
  t.same(sortBlocks(view.blocks, 'pps').map((b) => b.rule.ruleId), [2, 1]);
  t.same(sortBlocks(view.blocks, 'errors').map((b) => b.rule.ruleId), [1, 2]);
  t.same(sortBlocks(view.blocks, 'name').map((b) => b.rule.ruleId), [1, 2], 'named rules first, then by id');
});

t.test('the renderer: a header, a rule line with its outputs under it, cut to the terminal', async (t) => {
  const view = buildView(sample(0, [1000, 10]), sample(1000, [2000, 20]));
  const lines = renderTop(view, { sort: 'pps', intervalMs: 1000, nowMs: NOW });
  t.match(lines[0], /^mcrctl top {2}2026-12-03 12:00:00Z {2}every 1\.0 s {2}sort pps$/);
  t.match(lines[1], /^workers 1\/2 running {2}restarts 3 {2}rules 2 {2}total 1010\.0 pps 10\.54 Mbit\/s {2}kernel drops 0$/);
  t.match(lines[2], /^ {2}in0: workers 1\/2 {2}frames 1010\.0\/s {2}kernel drops 0 \(0\.0\/s\)$/);
  const text = lines.join('\n');
  t.match(text, /ID +NAME +INPUT \/ OUTPUT +PPS +MBIT\/S +PACKETS +ERRORS +STREAM +RTP +TS/);
  t.match(text, /\n +1 +cam +in0 239\.1\.1\.1:5000 +1000\.0 +10\.53 +2000 +3 \(ENOBUFS 2, EHOSTUNREACH 1\) +- +- +-\n +> 239\.2\.2\.2:6000:out0 +1000\.0/);
  t.notMatch(text, /\x1b/, 'no escape codes');
  const small = renderTop(view, { sort: 'pps', intervalMs: 1000, nowMs: NOW, width: 40, height: 10, keys: true });
  t.ok(small.length <= 10 && small.every((l) => l.length <= 40), 'fits 40x10');
  t.match(small.at(-1), /^\.\.\. 1 more rule/, 'says what did not fit');
  t.match(renderTop(undefined, { sort: 'pps', intervalMs: 500, nowMs: NOW, error: 'ECONNREFUSED: nobody listens' }).join('\n'), /mcrd not answering: ECONNREFUSED: nobody listens/);
});

/** A fake mcrd whose counters grow by 1000 packets per stats request. */
async function growingMcrd(t: Parameters<typeof startControlServer>[0]) {
  let polls = 0;
  return startControlServer(t, stubHandler({
    stats: async () => {
      polls++;
      return { rules: [ruleStats(1, polls * 1000, 1316), ruleStats(2, 0, 100)], workers: [], inputs: [], outputInterfaces: [] };
    },
    listRules: async () => ({ rules: RULES, generation: 1, problems: [] }),
    workers: async () => ({ workers: WORKERS }),
  }));
}

async function run(argv: string[], extra: Partial<Parameters<typeof runMcrctl>[1]> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runMcrctl(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), now: () => NOW, ...extra });
  return { code, out, err };
}

t.test('not a terminal: one plain snapshot per interval, --count of them', async (t) => {
  const { path } = await growingMcrd(t);
  const r = await run(['--socket', path, 'top', '--interval', '100', '--count', '3', '--sort', 'name']);
  t.equal(r.code, 0, r.err);
  const snapshots = r.out.split(/^(?=mcrctl top )/m);
  t.equal(snapshots.length, 3, 'three snapshots, each from its title line');
  t.ok(snapshots.every((s) => s.endsWith('\n\n')), 'each followed by a blank line');
  t.notMatch(r.out, /\x1b/, 'no escape codes');
  t.match(snapshots[0], /\n +1 +cam +in0 239\.1\.1\.1:5000 +- +- +1000 /, 'the first has no rate yet');
  const rate = /\n +1 +cam +in0 239\.1\.1\.1:5000 +(\d+\.\d) +(\d+\.\d\d) +2000 /.exec(snapshots[1] ?? '');
  t.ok(rate !== null && Number(rate[1]) > 0 && Number(rate[2]) > 0, `the second shows a nonzero rate (${rate?.[1]} pps, ${rate?.[2]} Mbit/s)`);
  t.equal((await run(['--socket', path, 'top', '--sort', 'size'])).code, 2, 'an unknown sort key is a usage error');
});

t.test('not a terminal and no mcrd: status 1 with the error code', async (t) => {
  const r = await run(['--socket', join(await socketPath(t)), 'top', '--count', '1']);
  t.equal(r.code, 1);
  t.match(r.err, /^mcrctl: ENOENT: /);
});

/** stdin and stdout of a terminal, as far as top uses them. */
function fakeTerminal() {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode(mode: boolean) { this.modes.push(mode); return this; } });
  let written = '';
  const stdout = Object.assign(new PassThrough(), { columns: 120, rows: 30 });
  stdout.on('data', (chunk: Buffer) => (written += chunk.toString()));
  return { stdin, stdout, written: () => written };
}

t.test('on a terminal: full screen, q quits and gives the terminal back', async (t) => {
  const { path } = await growingMcrd(t);
  const term = fakeTerminal();
  const running = run(['--socket', path, 'top', '--interval', '100'], { terminal: { stdin: term.stdin, stdout: term.stdout } });
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  await until(() => (term.written().match(/\x1b\[H/g)?.length ?? 0) >= 3);
  t.match(term.written(), /^\x1b\[\?1049h\x1b\[\?25l/, 'alternate screen, cursor hidden');
  t.match(term.written(), /\(q quit, s sort\)/);
  term.stdin.write('s');
  await until(() => /sort errors/.test(term.written()));
  t.match(term.written(), /sort errors/, 's changes the sort key at once');
  term.stdin.write('q');
  const r = await running;
  t.equal(r.code, 0);
  t.same(term.stdin.modes, [true, false], 'raw mode on, then off');
  t.match(term.written(), /\x1b\[\?25h\x1b\[\?1049l$/, 'cursor shown and the main screen back, last');
});

t.test('on a terminal without mcrd: the screen says so, top keeps trying, Ctrl-C quits cleanly', async (t) => {
  const term = fakeTerminal();
  const path = await socketPath(t);
  const running = run(['--socket', path, 'top', '--interval', '100'], { terminal: { stdin: term.stdin, stdout: term.stdout } });
  for (let i = 0; i < 200 && (term.written().match(/mcrd not answering/g)?.length ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.ok((term.written().match(/mcrd not answering: ENOENT: /g)?.length ?? 0) >= 2, 'shown on more than one frame: it keeps trying');
  term.stdin.write('\x03');
  const r = await running;
  t.equal(r.code, 0);
  t.equal(r.err, '');
  t.same(term.stdin.modes, [true, false]);
  t.match(term.written(), /\x1b\[\?25h\x1b\[\?1049l$/);
});

t.test('on a terminal, q quits at once even while mcrd does not answer', async (t) => {
  // An mcrd that accepts and never answers stats (mcrctl's own --timeout: 60 s).
  let asked = 0;
  const { path } = await startControlServer(t, stubHandler({ stats: () => { asked++; return new Promise(() => undefined); } }));
  const term = fakeTerminal();
  const started = Date.now();
  const running = run(['--socket', path, '--timeout', '60000', 'top', '--interval', '100'], { terminal: { stdin: term.stdin, stdout: term.stdout } });
  for (let i = 0; i < 200 && asked === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(asked, 1, 'top asked for stats and waits for the answer');
  term.stdin.write('q');
  const r = await running;
  t.equal(r.code, 0, 'quit cleanly');
  // Without the close on quit it waited for the answer: 10 s, when the
  // control server gives up on the handler (its request timeout).
  t.ok(Date.now() - started < 5_000, `without waiting for an answer (${Date.now() - started} ms)`);
  t.same(term.stdin.modes, [true, false], 'and the terminal given back');
});
