/**
 * SIGHUP reload as a diff: while a flow runs through an unchanged rule, the
 * config gains a rule; MCR takes in and sends every datagram of the
 * unchanged flow (its counters; the sink gets each but any its socket had
 * no room for on a loaded host) and the new rule forwards. An invalid file
 * changes nothing. A file whose daemon section changed reloads its rules
 * and names each daemon field it did not apply (mcrctl reload's output,
 * mcrd's log): those apply at the next start. `mcrctl save` writes the
 * running rules without dropping the daemon section: it keeps the replaced
 * file's (edited since the start, perhaps), and a new file gets the
 * settings mcrd started with; the replaced file keeps its mode, through a
 * temporary file renamed over it.
 */
import t from 'tap';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../supervisor/config/index.js';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { ControlClient } from '../../common/control-client.js';
import { ROOT, genReport, runGen, sinkReport, startGen, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';
import { parseSnmp } from '../../bench/bench-lab.js';
import type { Lab } from '../../bench/lab/index.js';
import type { StatsResult } from '../../proto/index.js';

/** UDP datagrams a namespace's sockets had no receive-buffer room for (/proc/net/snmp RcvbufErrors). */
async function rcvbufErrors(lab: Lab, ns: string): Promise<number> {
  return parseSnmp((await lab.exec(ns, 'cat', ['/proc/net/snmp'])).stdout)['Udp.RcvbufErrors'] ?? 0;
}

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
const RULE_A = `{ name: "a", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
  outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] }`;
const RULE_B = `{ name: "b", inputInterface: "in0", inputGroup: "239.1.1.2", inputPort: 5002,
  outputs: [{ group: "239.2.2.3", port: 6002, interface: "out0" }] }`;

t.test('SIGHUP reload: unchanged rule loses nothing, added rule forwards, bad file changes nothing', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'reload');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, `// test config\n{ rules: [ ${RULE_A} ] }\n`);
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', socket, '--workers', '1']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);

  const sinkA = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 60_000, idle: 3 });
  const sinkNs = rl.sinks[0]?.ns ?? '';
  const overflowBefore = await rcvbufErrors(rl.lab, sinkNs);
  const genA = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 60_000, rate: 20_000, size: 200 });
  writeFileSync(config, `{ rules: [ ${RULE_A}, ${RULE_B} ] }\n`);
  mcrd.process.kill('SIGHUP');
  await mcrd.waitForLine('stdout', /"added":1,"removed":0,"changed":0,"unchanged":1.*"msg":"configuration reloaded"/, 10_000);
  const sinkB = await startSink(rl, 0, { group: '239.2.2.3', port: 6002, count: 10_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.2', port: 5002, count: 10_000, rate: 20_000, size: 200, stream: 2 });
  t.equal((await sinkReport(sinkB)).received, 10_000, 'the added rule forwards');

  writeFileSync(config, '{ rules: [ { name: "a" ');
  mcrd.process.kill('SIGHUP');
  await mcrd.waitForLine('stdout', /"msg":"reload failed: nothing changed"/, 10_000);
  const client = new ControlClient();
  await client.connect(socket);
  const list = await client.request({ kind: 'listRules' }) as { rules: Array<{ name?: string; id?: number }> };
  client.close();
  t.same(list.rules.map((r) => r.name), ['a', 'b'], 'an invalid file changed nothing');

  writeFileSync(config, `{ daemon: { logLevel: "debug", coalesceUs: 100 }, rules: [ ${RULE_A}, ${RULE_B} ] }\n`);
  const reload = await mcrctl(socket, ['reload']);
  t.equal(reload.exitCode, 0, `a daemon edit does not fail the reload: ${reload.stderr}`);
  t.match(reload.stdout, /0 added, 0 removed, 0 changed, 2 unchanged/, 'the rules reload as usual');
  t.match(reload.stdout, /daemon settings changed in the file, not applied by a reload \(they take effect when mcrd starts again\):\n {4}coalesceUs \(unset\) -> 100\n {4}logLevel \(unset\) -> debug/,
    'each daemon field the reload did not apply, before and after');
  await mcrd.waitForLine('stdout', /"daemonNotApplied":\["coalesceUs \(unset\) -> 100","logLevel \(unset\) -> debug"\].*a reload applies rules only/, 10_000);

  t.equal((await genReport(genA)).sent, 60_000);
  const gotA = await sinkReport(sinkA);
  // MCR's side and the sink's apart: what MCR took in and sent for rule a,
  // and what the sinks' namespace had no socket room for (a sink starved
  // of CPU, beside busy cores, overflows outside MCR). Rule a's flow lost
  // 0.4 % once on 2026-12-07 beside a busy core, and the test could not
  // then say where.
  const stats = await mcrctlJson<StatsResult>(socket, ['stats']);
  const idA = list.rules.find((r) => r.name === 'a')?.id;
  const ruleA = stats.rules.find((r) => r.ruleId === idA);
  const inputDrops = stats.inputs.find((i) => i.interface === 'in0')?.kernelDrops;
  const overflow = await rcvbufErrors(rl.lab, sinkNs) - overflowBefore;
  t.comment(`rule a: ${ruleA?.packets} in, ${ruleA?.outputs[0]?.packets} sent, ${ruleA?.errors} errors; in0's kernel drops `
    + `${inputDrops}; the sink received ${gotA.received}, its namespace's UDP overflow ${overflow}`);
  t.equal(inputDrops, 0, 'no frame dropped before the worker read it');
  t.equal(ruleA?.packets, 60_000, 'the unchanged rule took in every datagram across both reloads');
  t.equal(ruleA?.outputs[0]?.packets, 60_000, 'and sent every one');
  t.equal(ruleA?.errors, 0, 'with no send error');
  t.equal(gotA.received + overflow, 60_000, 'the sink got every one but those its socket had no room for');
  t.equal(gotA.reordered, 0);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});

t.test('mcrctl save keeps the daemon section: the replaced file\'s, or for a new file the one mcrd started with', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'save');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, `{ daemon: { hungWorkerMs: 3000, logLevel: "info" }, rules: [ ${RULE_A} ] }\n`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  const add = await mcrctl(socket, ['add', '--name', 'b', '--input-interface', 'in0', '--input-group', '239.1.1.2', '--input-port', '5002',
    '--outputs', '239.2.2.3:6002:out0']);
  t.equal(add.exitCode, 0, `mcrctl add: ${add.stderr}`);

  chmodSync(config, 0o640);
  t.equal((await mcrctl(socket, ['save'])).exitCode, 0);
  t.equal(statSync(config).mode & 0o777, 0o640, 'the replaced file keeps its mode (written to a temporary file, renamed over it)');
  t.same(readdirSync(dir).filter((f) => f.startsWith('mcrd.json5.')), [], 'no temporary file left behind');
  let saved = loadConfig(config);
  t.same(saved.rules.map((r) => r.name), ['a', 'b'], 'the running rules, the one added at run time too');
  t.same(saved.daemon, { hungWorkerMs: 3000, logLevel: 'info' }, 'and the daemon section it replaced');

  // Edited since the start: the file's daemon section is the one to keep.
  writeFileSync(config, `{ daemon: { hungWorkerMs: 3000, logLevel: "debug" }, rules: [ ${RULE_A} ] }\n`);
  t.equal((await mcrctl(socket, ['save'])).exitCode, 0);
  saved = loadConfig(config);
  t.same(saved.daemon, { hungWorkerMs: 3000, logLevel: 'debug' }, 'a daemon edit made since the start is kept');
  t.same(saved.rules.map((r) => r.name), ['a', 'b']);

  const other = join(dir, 'other.json5');
  t.equal((await mcrctl(socket, ['save', '--file', other])).exitCode, 0);
  t.same(loadConfig(other).daemon, { hungWorkerMs: 3000, logLevel: 'info' }, 'a new file gets the daemon settings mcrd started with');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
