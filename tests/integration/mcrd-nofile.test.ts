/**
 * RLIMIT_NOFILE too low for the rules asked. mcrd runs with a hard limit of
 * 256 open files and without CAP_SYS_RESOURCE (prlimit, then setpriv drops
 * it from the bounding set, as a service with LimitNOFILE=256 and a
 * capability bounding set would run), with 400 single-output rules on one
 * input and one worker: the worker cannot hold one socket per output. mcrd
 * warns with EMFILE and says what to raise; the rules whose sockets the
 * kernel refuses are refused one by one with EMFILE and a message that
 * says to raise LimitNOFILE= or ulimit -n (in `mcrctl list`); the others
 * forward; the worker keeps running (no crash, no restart loop). Then a
 * reload with fewer rules (a refused rule among them) frees descriptors,
 * and every rule applies and forwards.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { formatConfig, type ConfigRule } from '../../supervisor/config/index.js';
import type { ListRulesResult } from '../../proto/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, MCRD, openFds, workersOf } from './mcrd-harness.js';

const RULES = 400;
const LIMIT = 256;

function rule(i: number): ConfigRule {
  return { name: `r${i}`, inputInterface: 'in0', inputGroup: `239.1.${i >> 8}.${i & 255}`, inputPort: 5000 + i,
    outputs: [{ group: `239.2.${i >> 8}.${i & 255}`, port: 30_000 + i, interface: 'out0' }] };
}

type Refusal = readonly [ruleId: number, code: string, message: string];
const refusalsOf = (l: ListRulesResult): Refusal[] => l.problems.flatMap((p) => p.refused.map((r) => [p.ruleId, r.error.code, r.error.message] as const));

/** Sends 300 datagrams to rule i's input and returns how many its sink got. */
async function forwarded(rl: Parameters<typeof startSink>[0], i: number): Promise<number> {
  const r = rule(i);
  const out = r.outputs[0];
  if (out === undefined) throw new Error(`rule ${i} has no output`);
  const sink = await startSink(rl, 0, { group: out.group, port: out.port, count: 300, idle: 2, duration: 20 });
  await runGen(rl, { dest: r.inputGroup, port: r.inputPort, count: 300, rate: 5_000, size: 100 });
  return (await sinkReport(sink)).received;
}

t.test(`a hard open-files limit of ${LIMIT} with ${RULES} outputs: EMFILE per rule, the rest forward, no restart loop`, async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'nofile');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, formatConfig({ daemon: {}, rules: Array.from({ length: RULES }, (_, i) => rule(i)) }));
  // Without CAP_SYS_RESOURCE mcrd cannot raise its hard limit (it does where it can).
  const mcrd = rl.lab.spawn(rl.relay.ns, 'prlimit', [`--nofile=${LIMIT}:${LIMIT}`, 'setpriv', '--bounding-set', '-sys_resource', '--inh-caps', '-sys_resource',
    process.execPath, MCRD, '--config', config, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  t.ok(mcrd.stdoutLines.some((l) => /"code":"EMFILE".*"openFilesLimit":256.*LimitNOFILE=/.test(l)), 'mcrd warns with EMFILE, its limit and what to raise');

  // The worker's first sync: wait until every rule is applied or refused (bounded).
  let listed: ListRulesResult | undefined;
  await pollUntil(async () => {
    listed = await mcrctlJson<ListRulesResult>(socket, ['list']);
    return listed.problems.every((p) => p.refused.length > 0);
  }, 30_000, 250);
  if (listed === undefined) throw new Error('no list answer');
  t.equal(listed.rules.length, RULES, 'every rule is in the table');
  const refused = refusalsOf(listed);
  t.ok(refused.length > 0 && refused.length < RULES, `some rules refused (${refused.length} of ${RULES}), not all`);
  t.same([...new Set(refused.map(([, code]) => code))], ['EMFILE'], 'each refusal carries EMFILE');
  t.ok(refused.every(([, , m]) => /LimitNOFILE=/.test(m) && /ulimit -n/.test(m)), 'and says to raise LimitNOFILE= or ulimit -n');
  t.comment(`refused: ${refused.length} of ${RULES}; first message: ${refused[0]?.[2] ?? ''}`);
  const human = await mcrctl(socket, ['list']);
  t.match(human.stdout, /EMFILE/, '`mcrctl list` shows EMFILE to a person too');

  const worker = (await workersOf(socket))[0];
  t.equal(worker?.state, 'running', 'the worker runs');
  t.ok(openFds(worker?.pid ?? 0).length <= LIMIT, `the worker holds at most ${LIMIT} descriptors`);
  const ids = new Map(listed.rules.map((r) => [r.name, r.id]));
  const refusedIds = new Set(refused.map(([id]) => id));
  const applied = Array.from({ length: RULES }, (_, i) => i).filter((i) => !refusedIds.has(ids.get(`r${i}`) ?? -1));
  const firstApplied = applied[0] ?? 0;
  const lastRefused = Array.from({ length: RULES }, (_, i) => i).filter((i) => refusedIds.has(ids.get(`r${i}`) ?? -1)).at(-1) ?? RULES - 1;
  const workerSeenAt = Date.now();
  // The refused rule's datagrams go first, then the applied rule's through the
  // same input and worker: once the applied rule's sink has all of its own,
  // the worker has read every refused one before them, so the refused rule's
  // sink can be stopped then instead of running out its 20 s.
  const refusedOut = rule(lastRefused).outputs[0];
  if (refusedOut === undefined) throw new Error(`rule ${lastRefused} has no output`);
  const refusedSink = await startSink(rl, 0, { group: refusedOut.group, port: refusedOut.port, count: 300, idle: 2, duration: 60 });
  await runGen(rl, { dest: rule(lastRefused).inputGroup, port: rule(lastRefused).inputPort, count: 300, rate: 5_000, size: 100 });
  t.equal(await forwarded(rl, firstApplied), 300, `an applied rule (r${firstApplied}) forwards every datagram`);
  await refusedSink.stop('SIGTERM', 5_000);
  t.equal((await sinkReport(refusedSink)).received, 0, `a refused rule (r${lastRefused}) forwards nothing`);

  // No restart loop: at least 3 s after the first look, the same process, never restarted.
  const waitMore = workerSeenAt + 3_000 - Date.now();
  if (waitMore > 0) await new Promise((r) => setTimeout(r, waitMore));
  const later = (await workersOf(socket))[0];
  t.equal(later?.pid, worker?.pid, 'the same worker process');
  t.equal(later?.restarts, 0, 'never restarted');

  // Fewer rules (the refused one among them): descriptors free up and everything applies.
  const kept = [...applied.slice(0, 50), lastRefused];
  writeFileSync(config, formatConfig({ daemon: {}, rules: kept.map(rule) }));
  const reload = await mcrctl(socket, ['reload']);
  t.comment(`reload: ${reload.exitCode} ${reload.stdout.slice(0, 600)} ${reload.stderr.slice(0, 600)}`);
  t.equal(reload.exitCode, 0, `mcrctl reload with ${kept.length} rules succeeds`);
  let after: ListRulesResult | undefined;
  const settled = await pollUntil(async () => {
    after = await mcrctlJson<ListRulesResult>(socket, ['list']);
    return after.rules.length === kept.length && after.problems.length === 0;
  }, 30_000, 250);
  t.ok(settled, `after the reload every rule applies (problems: ${JSON.stringify(after?.problems ?? []).slice(0, 300)})`);
  t.equal(await forwarded(rl, lastRefused), 300, `the rule refused before (r${lastRefused}) now forwards every datagram`);
  t.equal((await workersOf(socket))[0]?.restarts, 0, 'still no restart');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stops cleanly');
});
