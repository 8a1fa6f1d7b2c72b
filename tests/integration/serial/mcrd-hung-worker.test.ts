/**
 * Answers that say what is true while a worker does not answer, and a stop
 * that keeps its deadline. The watchdog is off here (--hung-worker-ms 0):
 * SIGSTOP then stands for a worker whose command side does not answer while
 * its loop may still beat (a blocked Node thread), which the heartbeat
 * cannot see; mcrd-watchdog.test.ts covers the watchdog itself. With one of
 * two workers SIGSTOPped:
 * `mcrctl add` answers within a few seconds that the rule is in the table,
 * applied by the running worker and not confirmed by the stopped one
 * (exit 1, ETIMEDOUT), instead of failing with ETIMEDOUT after 10 s as if
 * nothing had happened. Once the worker runs again, the next stats request
 * repairs it with a full sync. Then, with a worker stopped again, SIGTERM
 * ends mcrd within its documented 10 s (it took 30 s).
 */
import t from 'tap';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import type { AddRuleResult, ListRulesResult } from '../../../proto/index.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd, workersOf } from '../mcrd-harness.js';

t.test('a silent worker: add says who applied the rule, the worker is repaired, SIGTERM keeps 10 s', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'hung');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '2', '--hung-worker-ms', '0']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));
  const first = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0']);
  t.equal(first.exitCode, 0, first.stderr);
  t.ok(await pollUntil(async () => (await workersOf(socket)).every((w) => w.state === 'running'), 15_000), 'two workers running');
  const victim = (await workersOf(socket)).find((w) => w.id === 'in0/0')?.pid ?? 0;
  t.ok(victim > 0);
  const resume = (): void => {
    try {
      process.kill(victim, 'SIGCONT');
    } catch {
      // Already gone.
    }
  };
  t.teardown(resume);

  process.kill(victim, 'SIGSTOP');
  const started = Date.now();
  const add = await mcrctl(socket, ['--json', 'add', '--input-interface', 'in0', '--input-group', '239.1.1.2', '--input-port', '5002',
    '--outputs', '239.2.2.3:6002:out0']);
  const took = Date.now() - started;
  t.ok(took < 8_000, `answered in ${took} ms, not after the control request's 10 s timeout`);
  t.equal(add.exitCode, 1, 'exit 1: not applied everywhere');
  const result = JSON.parse(add.stdout) as AddRuleResult;
  t.same(result.application, { ruleId: result.rule.id, applied: ['in0/1'], refused: [], unconfirmed: ['in0/0'], pending: [] },
    'in the table, applied by in0/1, not confirmed by in0/0');
  t.match(add.stderr, /^mcrctl: ETIMEDOUT: rule 2 is in mcrd's rule table, applied by in0\/1, not confirmed by in0\/0/);
  const listed = await mcrctlJson<ListRulesResult>(socket, ['list']);
  t.same(listed.rules.map((r) => r.id), [1, 2], 'the rule is listed');
  t.same(listed.problems.map((p) => [p.ruleId, p.unconfirmed]), [[2, ['in0/0']]], 'list says in0/0 did not confirm it');

  resume();
  // A stats request pings every worker; the one that missed a change gets a full sync.
  t.ok(await pollUntil(async () => {
    await mcrctl(socket, ['stats']);
    return (await mcrctlJson<ListRulesResult>(socket, ['list'])).problems.length === 0;
  }, 10_000, 200), 'in0/0 repaired once it answers again');
  await mcrd.waitForLine('stdout', /"worker":"in0\/0".*"msg":"worker did not answer a rule change in time/, 1000);

  process.kill(victim, 'SIGSTOP');
  const stopAt = Date.now();
  const end = await mcrd.stop('SIGTERM', 30_000);
  const stopMs = Date.now() - stopAt;
  t.equal(end.exitCode, 0, 'mcrd exits 0');
  // Under 18 s, not 10: after the deadline the stop's own netlink work
  // (leaving groups, removing filters) can wait seconds for the rtnl lock
  // while tests running beside this one create and delete namespaces (13.1 s
  // seen in a full npm test; 10.1 s alone, with the other core busy). The
  // bug this guards against took 30 s (header).
  t.ok(stopMs < 18_000, `SIGTERM with a hung worker took ${stopMs} ms (deadline 10 s per worker, in parallel)`);
  t.ok(mcrd.stdoutLines.some((l) => /"worker":"in0\/0".*"msg":"worker did not stop in time: killed"/.test(l)), 'the kill is logged');
});
