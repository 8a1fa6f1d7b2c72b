/**
 * mcrd's signals at the edges of its start-up (supervisor/daemon-signals.ts).
 * A SIGTERM sent while mcrd is still starting (here: at its first log line,
 * before the workers or the consume filter exist) is held until start-up
 * has finished, then drains and stops as any stop: exit code 0, every worker
 * gone, the tc filter and the socket file removed. A SIGTERM sent the moment
 * "mcrd ready" appears (what a test or a supervisor does) gets the same
 * clean stop; mcrd used to add its listeners only after that line and its
 * host check, so the kernel's default action killed it. A SIGHUP during
 * start-up reloads once mcrd is ready, and mcrd keeps running. A second
 * stop signal ends mcrd at once with exit code 130. Ctrl-C in
 * the terminal mcrd runs in (tmux) reaches mcrd alone: its workers, in a
 * session of their own, are drained by mcrd rather than killed by the
 * terminal's SIGINT, so no worker exit is logged and mcrd exits 0.
 *
 * mcrd runs through `env -u NODE_OPTIONS`, as in production: a preload that
 * listens to signals itself (tap's process-info hook does) would hide a
 * missing listener of mcrd's.
 */
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { MCRD, mcrdLab, pidAlive, pidsGone } from './mcrd-harness.js';
import { hasTmux, privateTmux } from './tmux.js';

/** mcrd in the relay namespace with no NODE_OPTIONS at all (env execs node: the PID is mcrd's). */
function spawnMcrd(rl: RelayLab, args: string[]): LabProcess {
  return rl.lab.spawn(rl.relay.ns, 'env', ['-u', 'NODE_OPTIONS', process.execPath, MCRD, ...args]);
}

function writeConfig(dir: string): string {
  const file = join(dir, 'signals.json5');
  writeFileSync(file, JSON.stringify({ rules: [{ name: 's', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  return file;
}

const logged = (proc: LabProcess, msg: string): number => proc.stdoutLines.findIndex((l) => l.includes(`"msg":"${msg}`));

/** The PIDs mcrd logged for its workers ("worker running"). */
const workerPids = (proc: LabProcess): number[] => proc.stdoutLines.filter((l) => l.includes('"msg":"worker running"'))
  .map((l) => (JSON.parse(l) as { pid: number }).pid);

t.test('a SIGTERM during start-up waits for it to finish, then stops cleanly', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'sigstart');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = spawnMcrd(rl, ['--config', writeConfig(dir), '--control-socket', socket, '--workers', '1', '--consume-inputs']);
  // Logged before the stale-filter sweep, the workers and the control socket.
  await mcrd.waitForLine('stdout', /consumeInputs true/, 30_000);
  const result = await mcrd.stop('SIGTERM', 30_000);
  t.equal(result.exitCode, 0, `exit code 0, not the default action's kill (signal ${String(result.signal)})`);
  const deferred = logged(mcrd, 'SIGTERM during start-up');
  const ready = logged(mcrd, 'mcrd ready');
  const stopped = logged(mcrd, 'mcrd stopped');
  t.ok(deferred >= 0, 'mcrd said it would act once ready');
  t.ok(ready > deferred && stopped > ready, 'it finished starting, then stopped');
  const pids = workerPids(mcrd);
  t.equal(pids.length, 1, 'its worker had started');
  t.ok(await pidsGone(pids, 5000), 'and is gone');
  t.ok(logged(mcrd, 'consume filter installed') >= 0, 'its consume filter had been installed');
  t.notMatch((await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'show', 'dev', 'in0', 'ingress'])).stdout, /bpf/, 'no consume filter left');
  t.notOk(existsSync(socket), 'socket file removed');
});

t.test('a SIGTERM the moment "mcrd ready" appears stops cleanly', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'sigready');
  const socket = join(dir, 'mcrd.sock');
  // Three times: without listeners before the host check, each one was killed here.
  for (let i = 0; i < 3; i++) {
    const mcrd = spawnMcrd(rl, ['--config', writeConfig(dir), '--control-socket', socket, '--workers', '1']);
    await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
    const result = await mcrd.stop('SIGTERM', 30_000);
    t.equal(result.exitCode, 0, `start ${i + 1}: exit code 0 (signal ${String(result.signal)})`);
    t.ok(logged(mcrd, 'mcrd stopped') >= 0, `start ${i + 1}: drained and stopped`);
  }
});

t.test('a SIGHUP during start-up reloads once mcrd is ready, and mcrd keeps running', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'sighup');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = spawnMcrd(rl, ['--config', writeConfig(dir), '--control-socket', socket, '--workers', '1']);
  await mcrd.waitForLine('stdout', /consumeInputs auto/, 30_000);
  mcrd.process.kill('SIGHUP');
  await mcrd.waitForLine('stdout', /"msg":"reloading the configuration"/, 30_000);
  t.ok(logged(mcrd, 'SIGHUP during start-up') >= 0, 'held during start-up');
  t.ok(logged(mcrd, 'reloading the configuration') > logged(mcrd, 'mcrd ready'), 'the reload came after ready');
  t.notOk(mcrd.exited, 'SIGHUP did not end mcrd');
  t.equal((await mcrd.stop('SIGTERM', 30_000)).exitCode, 0, 'and it stops cleanly later');
});

t.test('a second stop signal ends mcrd at once, exit code 130', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'sigtwice');
  const mcrd = spawnMcrd(rl, ['--config', writeConfig(dir), '--control-socket', join(dir, 'mcrd.sock'), '--workers', '1', '--consume-inputs']);
  await mcrd.waitForLine('stdout', /consumeInputs true/, 30_000);
  // The first is held until start-up has finished; the second is someone who will not wait.
  mcrd.process.kill('SIGTERM');
  await mcrd.waitForLine('stdout', /SIGTERM during start-up/, 10_000);
  const result = await mcrd.stop('SIGINT', 10_000);
  t.equal(result.exitCode, 130, `exit code 130 (signal ${String(result.signal)})`);
  t.ok(logged(mcrd, 'second stop signal: exiting now') >= 0, 'and it said why');
  t.ok(await pidsGone(workerPids(mcrd), 5000), 'no worker it started outlives it');
});

t.test('Ctrl-C in mcrd\'s terminal: mcrd drains its workers, the terminal does not kill them', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!hasTmux()) {
    t.plan(0, 'needs tmux (Debian package tmux, installed by .ci/run) for a real terminal to press Ctrl-C in');
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'sigint');
  const socket = join(dir, 'mcrd.sock');
  const log = join(dir, 'mcrd.log');
  const tmux = privateTmux(t, 'sigint', 'mcrd', 200, 20);
  const lines = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0) : []);
  const mcrdPid = (): number | undefined => {
    const first = lines()[0];
    return first === undefined ? undefined : (JSON.parse(first) as { pid: number }).pid;
  };
  t.teardown(() => {
    // A failed test may leave mcrd running in the pane: end it by its PID.
    const pid = mcrdPid();
    if (pid !== undefined && pid > 0 && pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  // In the foreground of the pane's shell, as an operator runs it: mcrd and its workers get the terminal's signals.
  tmux('send-keys', '-t', 'mcrd', `ip netns exec ${rl.relay.ns} ${process.execPath} ${MCRD} --config ${writeConfig(dir)} --control-socket ${socket} ` +
    `--workers 2 --consume-inputs --log-dir ${dir} > ${log} 2>&1; echo MCRD-EXIT=$?`, 'Enter');
  t.ok(await pollUntil(async () => lines().filter((l) => l.includes('"msg":"worker running"')).length === 2 &&
    lines().some((l) => l.includes('consume filter installed')), 30_000), 'mcrd started two workers and its consume filter');
  const workers = lines().filter((l) => l.includes('"msg":"worker running"')).map((l) => (JSON.parse(l) as { pid: number }).pid);
  // /proc/PID/stat after the command name: state, ppid, pgrp, session.
  const groupOf = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').slice(2, 4).join(' ');
  const own = groupOf(mcrdPid() ?? 0);
  t.ok(workers.every((pid) => groupOf(pid) !== own && groupOf(pid).split(' ')[0] === String(pid)),
    'each worker leads a process group and session of its own, apart from mcrd\'s');
  tmux('send-keys', '-t', 'mcrd', 'C-c');
  t.ok(await pollUntil(async () => /MCRD-EXIT=\d+/.test(tmux('capture-pane', '-p', '-t', 'mcrd')), 30_000), 'mcrd ended');
  t.match(tmux('capture-pane', '-p', '-t', 'mcrd'), /MCRD-EXIT=0\b/, 'with exit code 0');
  const exits = lines().filter((l) => l.includes('worker exited'));
  t.same(exits, [], 'no worker exited on its own: the terminal\'s SIGINT did not reach them');
  t.ok(lines().some((l) => l.includes('"signal":"SIGINT"') && l.includes('stopping: draining workers')), 'mcrd drained them on its SIGINT');
  t.ok(lines().some((l) => l.includes('"msg":"mcrd stopped"')), 'and stopped');
  t.ok(await pidsGone(workers, 5000), 'both workers are gone');
  for (const id of ['in0_0', 'in0_1']) {
    const file = join(dir, `${id}.log`);
    t.match(existsSync(file) ? readFileSync(file, 'utf8') : '', /worker stopped: final counters/, `worker ${id} stopped on mcrd's command, drained`);
  }
  t.notMatch((await rl.lab.exec(rl.relay.ns, 'tc', ['filter', 'show', 'dev', 'in0', 'ingress'])).stdout, /bpf/, 'no consume filter left');
});
