/**
 * mcrd's consumeInputs on real interfaces. auto (the default): with no
 * local listener the rule's datagrams reach the sink through MCR and the
 * relay host's own UDP stack counts none of them; a listener on the relay
 * host (mcrsink joined to the group on the input interface, bound to it)
 * makes mcrd drop its filter within a poll, logged with the listener's pid,
 * and hears every datagram while MCR still relays them; once it exits mcrd
 * consumes again. off never consumes (the stack counts every datagram); on
 * (the flag alone) consumes despite a listener. Removing the rule removes
 * the tc filter, and stopping mcrd leaves neither filter nor qdisc behind.
 * A filter left by a killed mcrd is removed by the next one, even one started with it off,
 * and so is the clsact qdisc it sat on when nothing else uses it; a clsact
 * qdisc holding someone else's filter survives every mcrd, with that filter.
 * A renamed input interface loses mcrd's filter (it would otherwise stay
 * there after mcrd stops) and gets it back with its name.
 * A second mcrd started on the same control socket stops at its lock,
 * before it would take the running one's filter for stale; one started
 * with another socket stops at the network namespace's guard.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { CONSUME_PREF } from '../../supervisor/net/input-filters.js';
import { runGen, sinkReport, startSink, TOOL } from './harness.js';
import { MCRD, mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

const WAIT_MS = 10_000;

async function ingressFilters(rl: RelayLab): Promise<string> {
  return (await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'show', 'dev', 'in0', 'ingress'])).stdout;
}

async function qdiscs(rl: RelayLab): Promise<string> {
  return (await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'show', 'dev', 'in0'])).stdout;
}

/** A listener on the relay host itself: mcrsink joined to the group on in0. */
async function localListener(rl: RelayLab, count: number): Promise<LabProcess> {
  const proc = rl.lab.spawn(rl.relay.ns, TOOL('mcrsink'), ['--port', '5000', '--group', '239.1.1.1', '--interface', 'in0',
    '--count', String(count), '--duration', '20', '--idle', '2']);
  await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
  return proc;
}

const until = (ok: () => Promise<boolean>): Promise<boolean> => pollUntil(ok, WAIT_MS);

/**
 * UDP datagrams the relay namespace's own stack took in: delivered to a
 * socket, refused for lack of one, or multicast that no socket wanted
 * (/proc/net/snmp: InDatagrams + NoPorts + IgnoredMulti).
 */
async function udpSeen(rl: RelayLab): Promise<number> {
  const lines = (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  return ['InDatagrams', 'NoPorts', 'IgnoredMulti'].reduce((sum, n) => sum + (values[names.indexOf(n)] ?? 0), 0);
}

async function listConsumes(socket: string): Promise<unknown> {
  return (await mcrctlJson<{ consumes?: unknown }>(socket, ['list'])).consumes;
}

/**
 * Someone else's filter on in0's clsact: cls_bpf at preference 100 whose
 * program returns TC_ACT_UNSPEC (-1), so later filters (mcrd's) still run.
 * (This kernel has cls_bpf; matchall and u32 may be missing.)
 */
const FOREIGN_PREF = 100;
async function addForeignFilter(rl: RelayLab): Promise<void> {
  await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'replace', 'dev', 'in0', 'clsact']);
  await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'add', 'dev', 'in0', 'ingress', 'pref', String(FOREIGN_PREF), 'bpf', 'bytecode', '1,6 0 0 4294967295']);
}
const foreignPresent = async (rl: RelayLab): Promise<boolean> => new RegExp(`pref ${FOREIGN_PREF} bpf`).test(await ingressFilters(rl));

/** One rule, in0 239.1.1.1:5000 → 239.2.2.2:6000 on out0, named `c`; returns the config file. */
function writeConfig(dir: string): string {
  const file = join(dir, 'consume.json5');
  writeFileSync(file, JSON.stringify({ rules: [{ name: 'c', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  return file;
}

t.test('auto consumes while no local socket listens, not while one does; off and on are forced', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  const hasBpf = async (): Promise<boolean> => /bpf[\s\S]*direct-action/.test(await ingressFilters(rl));

  // (a) auto, the default, with no local listener: the filter drops every relayed datagram before the stack.
  let mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  const m = mcrd;
  const logged = (re: RegExp): boolean => m.stdoutLines.some((l) => re.test(l));
  t.ok(await until(hasBpf), 'auto: a bpf direct-action filter on in0');
  t.match(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF} bpf`), `at preference ${CONSUME_PREF}`);
  t.ok(logged(/"msg":"rule 1 \(239\.1\.1\.1:5000 on in0\): no local listener -> consuming"/), 'the decision is logged with its reason');
  t.same((await listConsumes(socket)), { mode: 'auto', rules: [{ ruleId: 1, consumed: true, reason: 'no local listener' }] }, 'and listed');
  let seen = await udpSeen(rl);
  let sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1000, idle: 1 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 1000, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 1000, 'every datagram relayed');
  t.equal((await udpSeen(rl)) - seen, 0, 'and the relay host\'s UDP stack saw none of them');

  // (b) a local listener appears: within a poll mcrd stops consuming, and the listener hears everything.
  let local = await localListener(rl, 500);
  const notConsuming = new RegExp(`"msg":"rule 1 \\(239\\.1\\.1\\.1:5000 on in0\\): local listener pid ${local.pid} \\(inode \\d+\\) bound to 239\\.1\\.1\\.1:5000 -> not consuming"`);
  t.ok(await until(async () => logged(notConsuming)), 'auto: the listener is seen, named by its pid');
  t.ok(await until(async () => !(await hasBpf())), 'and the filter goes');
  const list = await mcrctl(socket, ['list']);
  t.match(list.stdout, new RegExp(`CONSUMED[\\s\\S]*no: local listener pid ${local.pid} `), `mcrctl list says so: ${list.stdout}`);
  sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 500, idle: 1 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 500, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 500, 'MCR still relays every datagram');
  t.equal((await sinkReport(local)).received, 500, 'and the local listener received every one');
  // mcrsink exits after its 500: the next poll consumes again.
  const closedAt = Date.now();
  t.ok(await until(async () => mcrd.stdoutLines.filter((l) => /rule 1 .*no local listener -> consuming/.test(l)).length === 2),
    'the listener closed: consuming again, logged');
  t.comment(`consuming again ${Date.now() - closedAt} ms after the listener exited (poll every 2000 ms)`);
  t.ok(await until(hasBpf), 'with its filter');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
  t.notMatch(await ingressFilters(rl), /bpf/, 'stopping mcrd removes the filter');
  t.notMatch(await qdiscs(rl), /clsact/, 'and the clsact qdisc it added');

  // (c) off: never consumes, so the stack sees every datagram (no socket: counted as ignored multicast).
  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs=off']);
  t.notMatch(await ingressFilters(rl), /bpf/, 'off: no filter');
  t.same((await listConsumes(socket)), { mode: 'false', rules: [{ ruleId: 1, consumed: false, reason: 'consumeInputs is false' }] });
  seen = await udpSeen(rl);
  sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 500, idle: 1 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 500, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 500, 'relayed');
  t.ok((await udpSeen(rl)) - seen >= 500, 'and the relay host\'s UDP stack saw every datagram');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);

  // on (the flag alone): consumes even what a local listener wants.
  local = await localListener(rl, 1000);
  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(hasBpf), 'on: a filter despite the local listener');
  t.ok(mcrd.stdoutLines.some((l) => l.includes('consume filter installed')), 'mcrd logged it');
  t.same((await listConsumes(socket)), { mode: 'true', rules: [{ ruleId: 1, consumed: true, reason: 'consumeInputs is true' }] });
  sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1000, idle: 1 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 1000, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 1000, 'every datagram is still relayed');
  // The stack would have delivered a datagram to the listener on its way in,
  // before MCR relayed it: with all 1000 at the sink, the listener has had its
  // chance at each, so it is stopped now rather than at its 20 s duration.
  await local.stop('SIGTERM', 5_000);
  t.equal((await sinkReport(local)).received, 0, 'and the relay host\'s own listener got none');

  const del = await mcrctl(socket, ['remove', '--name', 'c']);
  t.equal(del.exitCode, 0, `mcrctl remove: ${del.stderr}`);
  t.ok(await until(async () => !/bpf/.test(await ingressFilters(rl))), 'deleting the rule removes the filter');
  const add = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--name', 'c2']);
  t.equal(add.exitCode, 0, `mcrctl add: ${add.stderr}`);
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'adding a rule at run time installs it again');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exits 0');
  t.notMatch(await ingressFilters(rl), /bpf/, 'stopping mcrd removes the filter');
  t.notMatch(await qdiscs(rl), /clsact/, 'and the clsact qdisc it added');
});

t.test('auto: a group whose SSM sources take two of mcrd\'s membership sockets is still consumed', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consumessm');
  const socket = join(dir, 'mcrd.sock');
  // One source more than a socket's source filter takes (net.ipv4.igmp_max_msf, 10 by default): mcrd joins the rest on a second socket.
  const msf = Number((await rl.lab.exec(rl.relay.ns, 'sysctl', ['-n', 'net.ipv4.igmp_max_msf'])).stdout.trim());
  const sources = Array.from({ length: msf + 1 }, (_, i) => `10.9.0.${i + 1}`);
  const file = join(dir, 'ssm.json5');
  writeFileSync(file, JSON.stringify({ rules: sources.map((source, i) => ({ name: `s${i}`, inputInterface: 'in0', inputGroup: '232.1.1.1', inputPort: 5000,
    source, outputs: [{ group: '239.2.2.2', port: 6000 + i, interface: 'out0' }] })) }));
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1']);
  const users = async (): Promise<number> => {
    const igmp = (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp'])).stdout;
    const dev = igmp.split(/\n(?=\d)/).find((b) => /^\d+\s+in0\s/.test(b)) ?? '';
    return Number(/\s010101E8\s+(\d+)/.exec(dev)?.[1] ?? 0);
  };
  t.ok(await until(async () => (await users()) === 2), `the kernel counts 2 users of 232.1.1.1 on in0, both mcrd's (${msf + 1} sources, ${msf} per socket)`);
  const consumes = async (): Promise<Array<{ consumed?: boolean; reason?: string }>> =>
    ((await mcrctlJson<{ consumes?: { rules?: Array<{ consumed?: boolean; reason?: string }> } }>(socket, ['list'])).consumes?.rules ?? []);
  // Decided from a poll after both joins (one poll: 2 s).
  await new Promise((r) => setTimeout(r, 2_500));
  const rules = await consumes();
  t.equal(rules.length, sources.length, 'a decision per rule');
  t.ok(rules.every((r) => r.consumed === true && r.reason === 'no local listener'),
    `every rule consumed: mcrd's own sockets are no listeners (${JSON.stringify(rules.find((r) => r.consumed !== true) ?? {})})`);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});

t.test('a filter left by a killed mcrd is removed at the next start', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume2');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  let mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'filter installed');
  await mcrd.stop('SIGKILL', 5000);
  t.match(await ingressFilters(rl), /bpf/, 'kill -9 leaves the filter');

  t.match(await qdiscs(rl), /clsact/, 'and the clsact qdisc under it');

  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--no-consume-inputs']);
  t.notMatch(await ingressFilters(rl), /bpf/, 'an mcrd with --no-consume-inputs removed it before it was ready');
  t.ok(mcrd.stdoutLines.some((l) => l.includes('removed a consume filter left by an earlier mcrd')), 'and said so');
  t.notMatch(await qdiscs(rl), /clsact/, 'and the clsact qdisc that held only that filter');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);

  // A killed mcrd followed by one with --consume-inputs, which then stops.
  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'filter installed again');
  await mcrd.stop('SIGKILL', 5000);
  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(async () => mcrd.stdoutLines.some((l) => l.includes('consume filter installed'))), 'the next mcrd installs its own');
  t.match(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF} bpf`));
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
  t.notMatch(await ingressFilters(rl), /bpf/, 'and removes it at stop');
  t.notMatch(await qdiscs(rl), /clsact/, 'with the clsact qdisc: nothing else used it');
});

t.test('a second mcrd on the same control socket exits EADDRINUSE and leaves the running one\'s filter and socket alone', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume3');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'the first mcrd\'s filter installed');
  const second = await rl.lab.exec(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs'],
    { reject: false, timeoutMs: 30_000 });
  t.equal(second.exitCode, 1, 'the second exits 1');
  t.match(second.stderr, /EADDRINUSE: another mcrd is starting or running on .*mcrd\.sock \(it holds .*mcrd\.sock\.lock\)/, 'saying why and what to do');
  t.match(await ingressFilters(rl), /bpf/, 'the running mcrd\'s filter is still there (before the lock came first, the second removed it as stale)');
  t.notMatch(second.stdout, /removed a consume filter/, 'the second removed no filter');
  t.equal((await mcrctlJson<{ pid: number }>(socket, ['ping'])).pid, mcrd.pid, 'the first still answers on the socket');

  // Another control socket does not make room for a second mcrd in the same network namespace.
  const other = await rl.lab.exec(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', join(dir, 'other.sock'), '--workers', '1'],
    { reject: false, timeoutMs: 30_000 });
  t.equal(other.exitCode, 1, 'one with another socket exits 1 as well');
  t.match(other.stderr, new RegExp(`EADDRINUSE: another mcrd \\(pid ${mcrd.pid}, control socket .*mcrd\\.sock\\) runs in this network namespace: one mcrd per network namespace`),
    'naming the running one');
  t.match(await ingressFilters(rl), /bpf/, 'the running mcrd\'s filter is still there');
  t.equal((await mcrctlJson<{ pid: number }>(socket, ['ping'])).pid, mcrd.pid, 'and it still answers');
});

t.test('a renamed input interface: mcrd\'s filter is removed there and comes back with the name', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume4');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'filter on in0');
  const rename = async (from: string, to: string): Promise<void> => {
    for (const args of [['link', 'set', 'dev', from, 'down'], ['link', 'set', 'dev', from, 'name', to], ['link', 'set', 'dev', to, 'up']]) {
      await rl.lab.exec(rl.relay.ns, 'ip', args);
    }
  };
  const filtersOn = async (dev: string): Promise<string> => (await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'show', 'dev', dev, 'ingress'])).stdout;
  await rename('in0', 'mcrren0');
  t.ok(await until(async () => !/bpf/.test(await filtersOn('mcrren0'))),
    'removed from the renamed device (before: forgotten there, so it kept dropping the groups after mcrd stopped)');
  await rename('mcrren0', 'in0');
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'back on in0 with its name');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
  t.notMatch(await ingressFilters(rl), /bpf/, 'and removed at stop');
});

t.test('a clsact qdisc with someone else\'s filter is never removed, nor that filter', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume3');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  const args = ['--config', config, '--control-socket', socket, '--workers', '1'];
  const off = [...args, '--consume-inputs=off'];

  // Theirs first: mcrd adds its filter to the existing clsact, then is killed.
  await addForeignFilter(rl);
  t.ok(await foreignPresent(rl), 'the other filter is in place');
  let mcrd = await startMcrd(rl, [...args, '--consume-inputs']);
  t.ok(await until(async () => new RegExp(`pref ${CONSUME_PREF} bpf`).test(await ingressFilters(rl))), 'mcrd\'s filter installed beside it');
  await mcrd.stop('SIGKILL', 5000);
  mcrd = await startMcrd(rl, off);
  t.notMatch(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF}`), 'the next mcrd removed the killed one\'s filter');
  t.ok(await foreignPresent(rl), 'but not the other filter');
  t.match(await qdiscs(rl), /clsact/, 'nor the clsact qdisc');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);

  // Theirs first, mcrd stopped cleanly.
  mcrd = await startMcrd(rl, [...args, '--consume-inputs']);
  t.ok(await until(async () => new RegExp(`pref ${CONSUME_PREF} bpf`).test(await ingressFilters(rl))), 'installed beside it again');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
  t.notMatch(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF}`), 'a stopped mcrd removes its filter');
  t.ok(await foreignPresent(rl), 'and leaves the other one');
  t.match(await qdiscs(rl), /clsact/, 'on its qdisc');

  // mcrd's clsact first, theirs added while it runs.
  await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'del', 'dev', 'in0', 'clsact']);
  mcrd = await startMcrd(rl, [...args, '--consume-inputs']);
  t.ok(await until(async () => new RegExp(`pref ${CONSUME_PREF} bpf`).test(await ingressFilters(rl))), 'mcrd added clsact and its filter');
  await addForeignFilter(rl);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
  t.notMatch(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF}`), 'its filter goes at stop');
  t.ok(await foreignPresent(rl), 'the filter added meanwhile stays');
  t.match(await qdiscs(rl), /clsact/, 'and so does the qdisc mcrd added, since it is in use');
});
