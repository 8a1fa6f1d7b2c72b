/**
 * One rule a worker cannot apply never stops the others. The output of rule
 * 2 is the directed broadcast of out1's subnet sent out of out0: the kernel
 * refuses that socket (EACCES: a broadcast route without SO_BROADCAST, and
 * not a broadcast address of out0, so mcrd does not set it). Beside it,
 * good rules forward after a start from the config, after a worker kill -9,
 * after a link flap and after a reload; the refusal is reported with its
 * errno in `list`, `workers`, the log and the answers to `add` and
 * `reload` (non-zero exit). The same run checks that `add` warns when a
 * source-specific rule takes datagrams from an any-source one, and that a
 * worker's log lines name rules by the ids mcrctl shows.
 * (Before the fix the worker refused the whole ruleset: nothing on in0
 * forwarded while mcrd said ready.)
 */
import t from 'tap';

type T = Parameters<Extract<Parameters<typeof t.test>[0], (...args: never[]) => unknown>>[0];
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { AddRuleResult, ListRulesResult, LogsResult, ReloadResult } from '../../proto/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd, workersOf } from './mcrd-harness.js';

const rule = (name: string, group: string, port: number, out: string): string =>
  `{ name: "${name}", inputInterface: "in0", inputGroup: "${group}", inputPort: ${port}, outputs: [{ ${out} }] }`;
const CONFIG = `{ rules: [
  ${rule('a', '239.1.1.1', 5000, 'group: "239.2.2.2", port: 6000, interface: "out0"')},
  ${rule('other-bcast', '239.1.1.5', 5005, 'group: "10.99.2.255", port: 7000, interface: "out0"')},
  ${rule('c', '239.1.1.6', 5006, 'group: "239.2.2.6", port: 6006, interface: "out0"')},
] }\n`;

/** Rules 1 and 3 each forward a burst of 1000 datagrams, every one. */
async function goodRulesForward(t: T, rl: RelayLab, when: string, stream: number): Promise<void> {
  for (const [group, port, out] of [['239.1.1.1', 5000, '239.2.2.2'], ['239.1.1.6', 5006, '239.2.2.6']] as const) {
    const sink = await startSink(rl, 0, { group: out, port: port + 1000, count: 1000, idle: 1, duration: 15 });
    await runGen(rl, { dest: group, port, count: 1000, rate: 10_000, size: 100, stream });
    t.equal((await sinkReport(sink)).received, 1000, `${when}: rule for ${group} forwards everything`);
  }
}

async function refusedIs(t: T, socket: string, when: string, ids: number[]): Promise<void> {
  const list = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.same(list.problems.map((p) => [p.ruleId, p.refused.map((r) => `${r.worker}:${r.error.code}`)]),
    ids.map((id) => [id, ['in0/0:EACCES']]), `${when}: list reports exactly rules ${ids.join(', ')} refused with EACCES`);
  const human = await mcrctl(socket, ['list']);
  t.match(human.stdout, /refused by in0\/0 \(EACCES\)/, `${when}: the table shows the refusal`);
  const workers = await workersOf(socket);
  t.match(workers[0]?.reason ?? '', new RegExp(`${ids.length} rules? refused: rule ${ids[0]} \\(EACCES`), `${when}: workers names the refused rule`);
}

t.test('a rule the worker cannot apply: the others forward, the refusal is reported everywhere', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'refused', { outputs: 2 });
  const file = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(file, CONFIG);
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));

  // Start from the config.
  await mcrd.waitForLine('stdout', /"rule":2,.*"code":"EACCES".*"msg":"worker refused a rule/, 10_000);
  await refusedIs(t, socket, 'start', [2]);
  await goodRulesForward(t, rl, 'start', 1);

  // add: a good rule is applied, a bad one is refused with its errno and a non-zero exit.
  const good = await mcrctlJson<AddRuleResult>(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.7',
    '--input-port', '5007', '--outputs', '239.2.2.7:6007:out0']);
  t.same(good.application, { ruleId: good.rule.id, applied: ['in0/0'], refused: [], unconfirmed: [], pending: [] }, 'add: applied by the worker');
  const bad = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.8', '--input-port', '5008',
    '--outputs', '10.99.2.255:7001:out0']);
  t.equal(bad.exitCode, 1, 'add of an unapplicable rule exits 1');
  t.match(bad.stderr, /^mcrctl: EACCES: rule 5 is in mcrd's rule table but worker in0\/0 refused it/, 'and says what happened');
  t.equal(bad.stdout, '5', 'the id is printed all the same: the rule is in the table');
  await refusedIs(t, socket, 'after add', [2, 5]);

  // A source-specific rule next to an any-source one says what it takes away.
  const ssm = await mcrctl(socket, ['--json', 'add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--source', '10.99.0.1', '--outputs', '239.2.2.2:6000:out0']);
  t.equal(ssm.exitCode, 0);
  t.match((JSON.parse(ssm.stdout) as AddRuleResult).warnings, [/datagrams from 10\.99\.0\.1 to 239\.1\.1\.1:5000 now go to this rule only, no longer to rule 1/]);
  t.match(ssm.stderr, /mcrctl: warning: datagrams from 10\.99\.0\.1/, 'the warning is on stderr too');
  t.equal((await mcrctl(socket, ['remove', '--id', '6'])).exitCode, 0);

  // kill -9: the new worker gets the same table, the same refusal.
  const victim = (await workersOf(socket))[0]?.pid ?? 0;
  t.ok(victim > 0);
  process.kill(victim, 'SIGKILL');
  await mcrd.waitForLine('stdout', /"restarts":1,.*"msg":"worker running"/, 10_000);
  await refusedIs(t, socket, 'after kill -9', [2, 5]);
  await goodRulesForward(t, rl, 'after kill -9', 2);

  // Worker log lines name rules by mcrctl's ids, also after a restart re-synced the table.
  const added = await mcrctlJson<AddRuleResult>(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.9',
    '--input-port', '5009', '--outputs', '239.2.2.9:6009:out0']);
  t.equal(added.rule.id, 7);
  t.ok(await pollUntil(async () => {
    const logs = await mcrctlJson<LogsResult>(socket, ['logs', '--worker', 'in0/0']);
    return logs.lines.some((l) => l.message === 'rule added' && (JSON.parse(l.json) as { rule?: number }).rule === 7);
  }, 5_000), 'the worker logs "rule added" with rule 7');

  // Link flap: the workers park and come back with the same table.
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'in0', 'down']);
  t.ok(await pollUntil(async () => (await workersOf(socket))[0]?.state === 'waiting', 10_000), 'worker parked while in0 is down');
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'in0', 'up']);
  t.ok(await pollUntil(async () => (await workersOf(socket))[0]?.state === 'running', 10_000), 'worker running again');
  await refusedIs(t, socket, 'after link flap', [2, 5]);
  await goodRulesForward(t, rl, 'after link flap', 3);

  // Reload back to the file: the refused rule is named in the answer, with a non-zero exit.
  const reload = await mcrctl(socket, ['--json', 'reload']);
  t.equal(reload.exitCode, 1, 'reload exits 1 while a rule is refused');
  t.match(reload.stderr, /^mcrctl: EACCES: rule 2 /);
  const result = JSON.parse(reload.stdout) as ReloadResult;
  t.match(result, { added: 0, removed: 3, changed: 0, unchanged: 3 });
  t.same(result.problems.map((p) => p.ruleId), [2]);
  await goodRulesForward(t, rl, 'after reload', 4);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
