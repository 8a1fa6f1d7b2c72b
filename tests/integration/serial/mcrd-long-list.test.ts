/**
 * A rule table whose list is larger than a client takes in one frame
 * (16 MiB): two input interfaces of 1 000 rules each, every rule with an
 * excludeSources list of 760 addresses (~9 MB of rules per interface,
 * under its byte limit, ~18 MB together). mcrd loads and forwards it;
 * `mcrctl list --json` and `mcrctl stats` get every rule (mcrd sends them
 * in parts, common/answer-parts.ts); a client asking for the list in one
 * piece, as an mcrctl before parts did, gets E2BIG and keeps its
 * connection. The second input interface does not exist, so its worker
 * waits: its rules are only listed.
 * Needs root (network namespaces).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { ControlError } from '../../../common/control-errors.js';
import { MAX_ANSWER_FRAME_BYTES } from '../../../common/answer-parts.js';
import { formatConfig, type ConfigRule } from '../../../supervisor/config/index.js';
import { encodeResponse } from '../../../proto/control.js';
import type { ListRulesResult } from '../../../proto/index.js';
import { runGen, sinkReport, startSink } from '../harness.js';
import { connectClient, mcrctl, mcrctlJson, mcrdLab, startMcrd } from '../mcrd-harness.js';

const PER_INTERFACE = 1000;
const EXCLUDED = 760;
/** An input interface no lab has: its rules are kept and listed, its worker waits for it. */
const ABSENT = 'mcrlong9';

/** Rule i of `iface`: its own group and port in, one output; 760 excluded sources from the benchmark range 198.18.0.0/15, none the generator's. */
function rule(iface: string, i: number): ConfigRule {
  const net = iface === ABSENT ? 20 : 10;
  const excludeSources = Array.from({ length: EXCLUDED }, (_, k) => `198.${18 + (k >> 9)}.${((k >> 8) & 1) * 10 + (i % 10)}.${k & 255}`).join(',');
  return { name: `${iface}-r${i}`, inputInterface: iface, inputGroup: `239.${net}.${i >> 8}.${i & 255}`, inputPort: 5000 + i, excludeSources,
    outputs: [{ group: `239.2.${i >> 8}.${i & 255}`, port: 30_000 + i, interface: 'out0' }] };
}

t.test('a rule list over 16 MiB: listed and counted whole, in parts; in one piece E2BIG', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'longlist');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  const rules = ['in0', ABSENT].flatMap((iface) => Array.from({ length: PER_INTERFACE }, (_, i) => rule(iface, i)));
  writeFileSync(config, formatConfig({ daemon: {}, rules }));
  await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);

  // The table is live: the last rule of in0 forwards.
  const last = rule('in0', PER_INTERFACE - 1);
  const out = last.outputs[0];
  if (out === undefined) throw new Error('a rule without outputs');
  const sink = await startSink(rl, 0, { group: out.group, port: out.port, count: 200, idle: 2, duration: 20 });
  await runGen(rl, { dest: last.inputGroup, port: last.inputPort, count: 200, rate: 10_000, size: 100 });
  t.equal((await sinkReport(sink)).received, 200, 'the last rule of in0 forwards');

  const listStart = performance.now();
  const listed = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.comment(`mcrctl list --json of the whole table: ${(performance.now() - listStart).toFixed(0)} ms (the command's own start included)`);
  const bytes = encodeResponse({ id: 1, more: false, body: { kind: 'listRules', ...listed } }).length;
  t.ok(bytes > MAX_ANSWER_FRAME_BYTES, `the list is ${bytes} bytes, more than one frame (${MAX_ANSWER_FRAME_BYTES})`);
  t.equal(listed.rules.length, 2 * PER_INTERFACE, 'mcrctl list --json: every rule');
  t.same(listed.rules.map((r) => r.name), rules.map((r) => r.name), 'in the table\'s order');
  t.ok(listed.rules.every((r) => r.excludeSources?.split(',').length === EXCLUDED), 'each with its whole excludeSources');
  t.equal(listed.streams?.rules.length, 2 * PER_INTERFACE, 'a stream state per rule');

  const stats = await mcrctlJson<{ rules: Array<{ ruleId: number; packets: number }> }>(socket, ['stats']);
  t.equal(stats.rules.length, 2 * PER_INTERFACE, 'mcrctl stats --json: every rule');
  const lastId = listed.rules.find((r) => r.name === last.name)?.id;
  t.equal(stats.rules.find((r) => r.ruleId === lastId)?.packets, 200, 'the last rule counted its datagrams');
  const table = await mcrctl(socket, ['stats']);
  t.equal(table.exitCode, 0, `mcrctl stats (table, stats and list at once) succeeds${table.stderr === '' ? '' : `: ${table.stderr}`}`);
  t.match(table.stdout, last.name ?? '', 'naming the last rule');

  const client = await connectClient(t, socket);
  const err = await client.request({ kind: 'listRules' }, { timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ControlError && err.code === 'E2BIG', `in one piece: E2BIG (${String(err)})`);
  t.equal((await client.request({ kind: 'ping' })).uptimeMs > 0, true, 'the same connection answers the next request');
});
