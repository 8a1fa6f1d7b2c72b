/**
 * mcrd's --log-dir when a worker's log file stops taking lines (as on a
 * full disk): mcrd and its worker go on relaying and answering, mcrd logs
 * the failure once with its errno code, `mcrctl logs` still has the lines,
 * and once the file is writable again mcrd says how many lines it missed
 * and the file takes the next ones. Here the file is replaced by a
 * directory (appends fail with EISDIR); a full disk fails them with ENOSPC
 * through the same path. Before the fix the first failed append ended mcrd,
 * and its workers with it.
 */
import t from 'tap';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrdLab, startMcrd } from './mcrd-harness.js';

t.test('a worker log file that cannot be written does not stop mcrd', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'logdir');
  const socket = join(dir, 'mcrd.sock');
  const logDir = join(dir, 'logs');
  const config = join(dir, 'mcrd.json5');
  writeFileSync(config, `{ rules: [ { name: "a", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
    outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] } ] }\n`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--log-dir', logDir]);
  const file = join(logDir, 'in0_0.log');
  t.match(readFileSync(file, 'utf8'), /"msg":"worker ready"/, 'the worker\'s lines are in its file');

  rmSync(file);
  mkdirSync(file);
  const add = (name: string, port: number) => mcrctl(socket, ['add', '--name', name, '--input-interface', 'in0', '--input-group', '239.1.1.2',
    '--input-port', String(port), '--outputs', `239.2.2.3:${port + 1000}:out0`]);
  t.equal((await add('b', 5002)).exitCode, 0, 'a rule change makes the worker log while its file fails');
  t.equal((await add('c', 5003)).exitCode, 0, 'and another');
  t.ok(await pollUntil(async () => mcrd.stdoutLines.some((l) => l.includes('"code":"EISDIR"') && l.includes('cannot write a worker log file')), 5000),
    'mcrd logged the failure with its code');
  t.equal(mcrd.stdoutLines.filter((l) => l.includes('cannot write a worker log file')).length, 1, 'once');
  t.notOk(mcrd.exited, 'mcrd is still running');
  const logs = await mcrctl(socket, ['logs', '--lines', '50']);
  t.equal(logs.exitCode, 0);
  t.equal((logs.stdout.match(/rule added/g) ?? []).length, 2, 'mcrctl logs still has the two lines the file missed');

  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 10_000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'and relaying goes on');

  rmSync(file, { recursive: true });
  t.equal((await mcrctl(socket, ['remove', '--name', 'c'])).exitCode, 0);
  t.ok(await pollUntil(async () => mcrd.stdoutLines.some((l) => /"missed":[1-9]\d*.*worker log file writable again/.test(l)), 5000),
    'writable again: mcrd says how many lines the file missed');
  t.match(readFileSync(file, 'utf8'), /"msg":"rule removed"/, 'and the file takes the next line');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);
});
