/**
 * `--worker-cpus`: the workers' loop threads are pinned to the CPUs asked
 * (and as many workers start as there are of them), mcrd moves every one of
 * its own threads to the CPUs left over, and so does each worker with its
 * threads other than the loop (`mcr-loop`), says so in its log, and the
 * relay forwards as before. Read from /proc/PID/task/TID/status and comm,
 * the kernel's own view.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { allowedCpus, formatCpuList } from '../../supervisor/cpu-set.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrdLab, startMcrd, workersOf } from './mcrd-harness.js';

/** Name and Cpus_allowed_list of every thread of a process. */
function threads(pid: number): Array<{ name: string; cpus: string }> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => ({
    name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
    cpus: /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? '?',
  }));
}

const threadCpus = (pid: number): string[] => threads(pid).map((th) => th.cpus);

t.test('--worker-cpus pins the workers\' loops there, mcrd and the workers\' other threads on the CPUs left', async (t) => {
  if (skipUnlessRoot(t)) return;
  const allowed = allowedCpus();
  if (allowed.length < 2) {
    t.plan(0, `needs two CPUs in this process's affinity, has ${formatCpuList(allowed)}`);
    return;
  }
  const workerCpu = allowed[allowed.length - 1] ?? 0;
  const rest = formatCpuList(allowed.filter((c) => c !== workerCpu));
  const { rl, dir } = await mcrdLab(t, 'cpus');
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ daemon: { workerCpus: "${workerCpu}" }, rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket]);
  const placed = mcrd.stdoutLines.find((l) => l.includes('"msg":"workers\' loops on CPUs'));
  t.match(placed ?? '', new RegExp(`"workerCpus":"${workerCpu}","supervisorCpus":"${rest}"`), 'the log says where each runs');

  const workers = await workersOf(socket);
  t.equal(workers.length, 1, 'one worker per worker CPU by default');
  const supervisorThreads = threadCpus(mcrd.pid);
  t.ok(supervisorThreads.length > 1, `mcrd has several threads (${supervisorThreads.length})`);
  t.ok(supervisorThreads.every((c) => c === rest), `every thread of mcrd on ${rest}: ${supervisorThreads.join(' ')}`);
  const workerThreads = threads(workers[0]?.pid ?? Number.NaN);
  const loops = workerThreads.filter((th) => th.name === 'mcr-loop');
  const others = workerThreads.filter((th) => th.name !== 'mcr-loop');
  const list = workerThreads.map((th) => `${th.name}:${th.cpus}`).join(' ');
  t.equal(loops.length, 1, `the worker has one loop thread: ${list}`);
  t.equal(loops[0]?.cpus, String(workerCpu), `the worker's loop thread alone on ${workerCpu}`);
  t.ok(others.length > 0 && others.every((th) => th.cpus === rest), `every other thread of the worker on ${rest}: ${list}`);

  const sink = await startSink(rl, 0, { group: '239.2.2.1', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'the relay forwards everything');
  await mcrd.stop();
});
