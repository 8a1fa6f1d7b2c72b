/**
 * mcrd --consume-inputs on real interfaces: the rule's datagrams still reach
 * the sink through MCR while a listener on the relay host itself, joined to
 * the same group on the input interface, gets none of them; removing the
 * rule removes the tc filter (the listener hears the stream again), and
 * stopping mcrd leaves neither filter nor qdisc behind. A filter left by a
 * killed mcrd is removed by the next one, even one started without the flag,
 * and so is the clsact qdisc it sat on when nothing else uses it; a clsact
 * qdisc holding someone else's filter survives every mcrd, with that filter.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { CONSUME_PREF } from '../../supervisor/net/input-filters.js';
import { runGen, sinkReport, startSink, TOOL } from './harness.js';
import { mcrctl, mcrdLab, startMcrd } from './mcrd-harness.js';

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

t.test('consumed datagrams are relayed but not delivered on the relay host', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);

  // Control: without the flag the relay host's own listener hears the stream.
  let mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.notMatch(await ingressFilters(rl), /bpf/, 'no filter without --consume-inputs');
  let local = await localListener(rl, 500);
  let sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 500, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 500, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 500, 'relayed');
  t.equal((await sinkReport(local)).received, 500, 'and the relay host\'s listener received them too');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);

  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  t.ok(await until(async () => /bpf[\s\S]*direct-action/.test(await ingressFilters(rl))), 'a bpf direct-action filter on in0');
  t.match(await ingressFilters(rl), new RegExp(`pref ${CONSUME_PREF} bpf`), `at preference ${CONSUME_PREF}`);
  t.ok(mcrd.stdoutLines.some((l) => l.includes('consume filter installed')), 'mcrd logged it');

  local = await localListener(rl, 1000);
  sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 1000, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 1000, 'with --consume-inputs every datagram is still relayed');
  t.equal((await sinkReport(local)).received, 0, 'and the relay host\'s own listener got none');

  const del = await mcrctl(socket, ['remove', '--name', 'c']);
  t.equal(del.exitCode, 0, `mcrctl remove: ${del.stderr}`);
  t.ok(await until(async () => !/bpf/.test(await ingressFilters(rl))), 'deleting the rule removes the filter');
  local = await localListener(rl, 300);
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 300, rate: 5000, size: 100 });
  t.equal((await sinkReport(local)).received, 300, 'the host hears the stream again');

  const add = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--name', 'c2']);
  t.equal(add.exitCode, 0, `mcrctl add: ${add.stderr}`);
  t.ok(await until(async () => /bpf/.test(await ingressFilters(rl))), 'adding a rule at run time installs it again');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exits 0');
  t.notMatch(await ingressFilters(rl), /bpf/, 'stopping mcrd removes the filter');
  t.notMatch(await qdiscs(rl), /clsact/, 'and the clsact qdisc it added');
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

  mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.notMatch(await ingressFilters(rl), /bpf/, 'an mcrd without --consume-inputs removed it before it was ready');
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

t.test('a clsact qdisc with someone else\'s filter is never removed, nor that filter', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'consume3');
  const socket = join(dir, 'mcrd.sock');
  const config = writeConfig(dir);
  const args = ['--config', config, '--control-socket', socket, '--workers', '1'];

  // Theirs first: mcrd adds its filter to the existing clsact, then is killed.
  await addForeignFilter(rl);
  t.ok(await foreignPresent(rl), 'the other filter is in place');
  let mcrd = await startMcrd(rl, [...args, '--consume-inputs']);
  t.ok(await until(async () => new RegExp(`pref ${CONSUME_PREF} bpf`).test(await ingressFilters(rl))), 'mcrd\'s filter installed beside it');
  await mcrd.stop('SIGKILL', 5000);
  mcrd = await startMcrd(rl, args);
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
