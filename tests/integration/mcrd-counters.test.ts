/**
 * Counters that never go backwards (issue 13), end to end in the namespace
 * lab: mcrd with one worker relays a rule with three outputs (out0, out1,
 * and one on a missing interface, so every datagram is an ENODEV there) and
 * an unrelated rule. After each of: a worker's kill -9, a reload that
 * changes only the other rule, out0 losing and regaining its address, and a
 * reload that changes one of the rule's outputs, every counter of `mcrctl
 * stats --json` (per rule, per output by destination, errors by errno, per
 * input interface) is equal or larger than before, and, since traffic is
 * sent in known amounts and waited for, the rule's packets are exactly
 * what mcrgen sent over the rule's life. `mcrctl clear --name` zeroes one
 * rule and leaves the other; `mcrctl clear` zeroes everything, is logged
 * with the caller, and the rates after it are neither negative nor a spike.
 * After each step a real HTTP scrape of /metrics agrees with the stats
 * answers taken around it.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { ClearResult, OutputStats, Rule, StatsResult } from '../../proto/index.js';
import { ControlClient } from '../../common/control-client.js';
import { inject, runGen } from './harness.js';
import { malformedFrames } from './frames.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd, workersOf } from './mcrd-harness.js';
import { parseMetrics, select, value, type ParsedMetrics } from '../unit/metrics-text.js';

const PORT = 9465;
const RATE = 5000;
const OUT0 = { group: '239.2.2.1', port: 6000, interface: 'out0' };
const OUT1 = { group: '239.2.2.2', port: 6001, interface: 'out1' };
const GONE = { group: '239.2.2.3', port: 6002, interface: 'nowhere0' };
const key = (o: { group: string; port: number; interface: string }): string => `${o.group}:${o.port}:${o.interface}`;

function config(o: { out1Port?: number; otherTtl?: number } = {}): string {
  const out = (x: { group: string; port: number; interface: string }, extra = ''): string =>
    `{ group: "${x.group}", port: ${x.port}, interface: "${x.interface}"${extra} }`;
  return `{ rules: [
  { name: "kept", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
    outputs: [${out(OUT0)}, ${out({ ...OUT1, port: o.out1Port ?? OUT1.port })}, ${out(GONE)}] },
  { name: "other", inputInterface: "in0", inputGroup: "239.1.1.2", inputPort: 5001,
    outputs: [${out({ group: '239.3.3.3', port: 6000, interface: 'out0' }, o.otherTtl !== undefined ? `, ttl: ${o.otherTtl}` : '')}] },
] }\n`;
}

const FETCH = `
const r = await fetch(process.argv[1], { signal: AbortSignal.timeout(10000) });
process.stdout.write(await r.text());`;

/** Every counter of a stats answer, by a name that survives a rule's new id (its name) and an output's new index (its destination). */
function flatten(s: StatsResult, rules: readonly Rule[]): Map<string, number> {
  const out = new Map<string, number>();
  const byId = new Map(rules.map((r) => [r.id, r]));
  for (const r of s.rules) {
    const rule = byId.get(r.ruleId);
    if (rule === undefined) continue;
    const name = rule.name ?? String(r.ruleId);
    out.set(`${name} packets`, r.packets);
    out.set(`${name} bytes`, r.bytes);
    out.set(`${name} errors`, r.errors);
    r.outputs.forEach((o: OutputStats, i) => {
      const ro = rule.outputs[i];
      if (ro === undefined) return;
      const k = `${name} ${key(ro)}`;
      out.set(`${k} packets`, o.packets);
      out.set(`${k} bytes`, o.bytes);
      out.set(`${k} errors`, o.errors);
      for (const [errno, n] of Object.entries(o.errorsByErrno)) out.set(`${k} ${errno}`, n);
    });
  }
  for (const i of s.inputs) {
    out.set(`${i.interface} frames`, i.frames);
    out.set(`${i.interface} kernelDrops`, i.kernelDrops);
    out.set(`${i.interface} unmatched`, i.unmatched);
    for (const [reason, n] of Object.entries(i.malformed)) out.set(`${i.interface} malformed ${reason}`, n);
  }
  return out;
}

t.test('counters only grow across kill -9, reloads and address changes; clear zeroes them on purpose', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'counters', { outputs: 2 });
  const socket = join(dir, 'mcrd.sock');
  const file = join(dir, 'mcrd.json5');
  writeFileSync(file, config());
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1', '--metrics-listen', `127.0.0.1:${PORT}`]);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));

  // Polls and snapshots over one connection (starting mcrctl's node for each costs a second on a busy host);
  // the mcrctl bin for the commands under test (reload, clear) and once for stats --json.
  const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 15_000 });
  await client.connect(socket);
  t.teardown(() => client.close());
  const list = async (): Promise<Rule[]> => (await client.request({ kind: 'listRules' })).rules;
  const stats = async (): Promise<StatsResult> => {
    const { kind: _kind, ...s } = await client.request({ kind: 'stats' });
    return s;
  };
  const kept = (s: StatsResult, rules: readonly Rule[]): StatsResult['rules'][number] | undefined =>
    s.rules.find((r) => r.ruleId === rules.find((x) => x.name === 'kept')?.id);
  let sent = 0;
  /** Sends `count` datagrams to rule "kept" (and a few to "other") and waits, bounded, until stats counted them all. */
  const traffic = async (count: number): Promise<void> => {
    const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count, rate: RATE, size: 200 });
    t.equal(gen.sent, count, `mcrgen sent ${count}`);
    await runGen(rl, { dest: '239.1.1.2', port: 5001, count: 50, rate: RATE, size: 100 });
    sent += count;
    const rules = await list();
    const done = await pollUntil(async () => kept(await stats(), rules)?.packets === sent, 15_000);
    t.ok(done, `rule "kept" counted all ${sent} datagrams of its life (got ${kept(await stats(), rules)?.packets})`);
  };
  /** Every counter of `before` is in `after` and not smaller (`changedOutputs`: destinations that left the rule on purpose). */
  const grew = (what: string, before: Map<string, number>, after: Map<string, number>, gone: readonly string[] = []): void => {
    const smaller: string[] = [];
    for (const [k, v] of before) {
      if (gone.some((g) => k.includes(g))) continue;
      const now = after.get(k);
      if (now === undefined || now < v) smaller.push(`${k}: ${v} -> ${String(now)}`);
    }
    t.same(smaller, [], `${what}: every counter equal or larger (${before.size} counters)`);
  };
  const scrape = async (): Promise<ParsedMetrics> => {
    const r = await rl.lab.exec(rl.relay.ns, process.execPath, ['--input-type=module', '-e', FETCH, `http://127.0.0.1:${PORT}/metrics`], { timeoutMs: 20_000 });
    return parseMetrics(r.stdout);
  };
  /** A scrape lies between the stats answers taken around it, counter by counter. */
  const metricsAgree = async (what: string): Promise<void> => {
    const rules = await list();
    const before = await stats();
    const m = await scrape();
    const after = await stats();
    const off: string[] = [];
    const check = (name: string, got: number, lo: number | undefined, hi: number | undefined): void => {
      if (lo === undefined || hi === undefined || got < lo || got > hi) off.push(`${name} ${got} not in ${String(lo)}..${String(hi)}`);
    };
    for (const r of rules) {
      const [b, a] = [before, after].map((s) => s.rules.find((x) => x.ruleId === r.id));
      const labels = { rule: String(r.id) };
      check(`rule ${r.id} packets`, value(m, 'mcr_rule_received_packets_total', labels), b?.packets, a?.packets);
      check(`rule ${r.id} bytes`, value(m, 'mcr_rule_received_bytes_total', labels), b?.bytes, a?.bytes);
      r.outputs.forEach((o, i) => {
        const ol = { ...labels, output: key(o) };
        check(`${key(o)} packets`, value(m, 'mcr_output_sent_packets_total', ol), b?.outputs[i]?.packets, a?.outputs[i]?.packets);
        check(`${key(o)} errors`, value(m, 'mcr_output_send_errors_total', ol), b?.outputs[i]?.errors, a?.outputs[i]?.errors);
        for (const s of select(m, 'mcr_output_send_errors_by_errno_total', ol)) {
          const errno = s.labels.errno ?? '';
          check(`${key(o)} ${errno}`, s.value, b?.outputs[i]?.errorsByErrno[errno] ?? 0, a?.outputs[i]?.errorsByErrno[errno] ?? 0);
        }
      });
    }
    const [bi, ai] = [before, after].map((s) => s.inputs.find((i) => i.interface === 'in0'));
    check('in0 frames', value(m, 'mcr_input_frames_total', { input: 'in0' }), bi?.frames, ai?.frames);
    check('in0 unmatched', value(m, 'mcr_input_unmatched_total', { input: 'in0' }), bi?.unmatched, ai?.unmatched);
    check('in0 malformed fragment', value(m, 'mcr_input_malformed_total', { input: 'in0', reason: 'fragment' }), bi?.malformed.fragment, ai?.malformed.fragment);
    t.same(off, [], `${what}: the metrics agree with stats --json`);
  };
  const snapshot = async (): Promise<Map<string, number>> => flatten(await stats(), await list());

  // Traffic of every kind the counters count: datagrams, malformed frames, one with no rule.
  await traffic(2000);
  await inject(rl, Object.values(malformedFrames('239.1.1.1', 5000)), 3);
  await runGen(rl, { dest: '239.1.1.99', port: 5099, count: 20, rate: RATE });
  t.ok(await pollUntil(async () => ((await stats()).inputs.find((i) => i.interface === 'in0')?.malformed.fragment ?? 0) >= 3, 10_000),
    'the malformed frames were counted per input');
  let before = await snapshot();
  const cli = await mcrctlJson<StatsResult>(socket, ['stats']);
  t.same(flatten(cli, await list()), before, 'mcrctl stats --json shows the same counters, inputs included');
  t.equal(before.get(`kept ${key(GONE)} ENODEV`), 2000, 'every datagram an ENODEV on the missing output');
  await metricsAgree('at start');

  await t.test('kill -9 of the worker', async (t) => {
    const [w] = await workersOf(socket);
    const pid = w?.pid ?? 0;
    t.ok(pid > 0, `the worker's pid ${pid}`);
    if (pid > 0) process.kill(pid, 'SIGKILL');
    t.ok(await pollUntil(async () => (await workersOf(socket)).some((x) => x.state === 'running' && x.pid !== pid && x.pid > 0), 20_000),
      'a new worker is running');
    const after = await snapshot();
    grew('after kill -9', before, after);
    await traffic(1000);
    const more = await snapshot();
    grew('after kill -9 and more traffic', after, more);
    t.equal(more.get(`kept ${key(OUT0)} packets`), sent, 'out0 sent every datagram of the rule\'s life');
    t.equal(more.get(`kept ${key(GONE)} ENODEV`), sent, 'ENODEV on the missing output for every one');
    before = more;
    await metricsAgree('after kill -9');
  });

  await t.test('a reload that changes only the other rule', async (t) => {
    const ids = await list();
    writeFileSync(file, config({ otherTtl: 9 }));
    const r = await mcrctlJson<{ changed: number; unchanged: number }>(socket, ['reload']);
    t.match(r, { changed: 1, unchanged: 1 }, 'the other rule changed, kept did not');
    const now = await list();
    t.equal(now.find((x) => x.name === 'kept')?.id, ids.find((x) => x.name === 'kept')?.id, 'kept kept its id');
    const after = await snapshot();
    grew('after the reload', before, after);
    await traffic(500);
    before = await snapshot();
    t.equal(before.get('kept packets'), sent, 'kept counted every datagram of its life');
    await metricsAgree('after the reload');
  });

  await t.test('out0 loses its address and gets it back', async (t) => {
    const rebuilt = /egress sockets rebuilt/;
    const count = (): number => mcrd.stdoutLines.filter((l) => rebuilt.test(l)).length;
    const resyncs = count();
    const addr = `${rl.relay.outputs[0]?.addr ?? ''}/24`;
    await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'del', addr, 'dev', 'out0']);
    t.ok(await pollUntil(async () => count() > resyncs, 10_000), 'mcrd resynced the workers');
    grew('after the address went', before, await snapshot());
    await traffic(500);
    const during = await snapshot();
    t.ok((during.get(`kept ${key(OUT0)} EADDRNOTAVAIL`) ?? 0) >= 1, 'out0 counted EADDRNOTAVAIL while it had no address');
    grew('during the fault', before, during);
    await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'add', addr, 'dev', 'out0']);
    t.ok(await pollUntil(async () => count() > resyncs + 1, 10_000), 'mcrd resynced the workers again');
    grew('after the address came back', during, await snapshot());
    await traffic(500);
    const after = await snapshot();
    grew('after the address came back and more traffic', during, after);
    t.equal(after.get('kept packets'), sent, 'kept counted every datagram of its life');
    before = after;
    await metricsAgree('after the address change');
  });

  await t.test('a reload that changes one output of the rule', async (t) => {
    writeFileSync(file, config({ otherTtl: 9, out1Port: 6011 }));
    const r = await mcrctlJson<{ changed: number }>(socket, ['reload']);
    t.equal(r.changed, 1, 'kept changed (a new id)');
    const after = await snapshot();
    grew('after the output changed', before, after, [key(OUT1)]);
    const moved = key({ ...OUT1, port: 6011 });
    t.equal(after.get(`kept ${moved} packets`), 0, 'the new output starts at zero');
    t.equal(after.get(`kept ${key(OUT0)} packets`), before.get(`kept ${key(OUT0)} packets`), 'out0 kept its count');
    t.equal(after.get(`kept ${key(GONE)} ENODEV`), before.get(`kept ${key(GONE)} ENODEV`), 'the missing output kept its ENODEV count');
    await traffic(500);
    const more = await snapshot();
    t.equal(more.get('kept packets'), sent, 'kept counted every datagram of its life, across the change');
    t.equal(more.get(`kept ${moved} packets`), 500, 'the new output counted what came since');
    before = more;
    await metricsAgree('after the output changed');
  });

  await t.test('clear', async (t) => {
    const one = await mcrctlJson<ClearResult>(socket, ['clear', '--name', 'other']);
    t.equal(one.ruleIds.length, 1, 'one rule cleared');
    const afterOne = await snapshot();
    t.equal(afterOne.get('other packets'), 0, 'the named rule is at zero');
    t.equal(afterOne.get('other 239.3.3.3:6000:out0 packets'), 0, 'and its output');
    grew('the other rule after clear --name other', new Map([...before].filter(([k]) => k.startsWith('kept') || k.startsWith('in0'))), afterOne);
    await stats();
    const text = await mcrctl(socket, ['clear']);
    t.equal(text.exitCode, 0, 'mcrctl clear');
    t.match(text.stdout, /^counters cleared: 2 rules, 1 input interface$/m);
    t.ok(await pollUntil(async () => mcrd.stdoutLines.some((l) => /"msg":"counters cleared"/.test(l) && /"rules":"all"/.test(l) && /"caller":"mcrctl, user /.test(l)), 5_000),
      'mcrd logged the clear with the caller');
    const zero = await snapshot();
    const nonzero = [...zero].filter(([k, v]) => v !== 0 && !k.startsWith('in0 frames') && !k.startsWith('in0 unmatched'));
    t.same(nonzero, [], 'every rule, output and malformed counter is zero (frames may have moved since: stray multicast)');
    sent = 0;
    await traffic(600);
    const s = await stats();
    const k = kept(s, await list());
    t.equal(k?.packets, 600, 'counting again from zero');
    for (const r of s.rules) {
      for (const pps of [r.pps, ...r.outputs.map((o) => o.pps)]) {
        if (pps !== undefined) t.ok(pps >= 0 && pps <= RATE * 2, `rate ${pps.toFixed(0)} pps: not negative, not a spike (sent at ${RATE})`);
      }
    }
    await metricsAgree('after clear');
  });

  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exited 0');
});

