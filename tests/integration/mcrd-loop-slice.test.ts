/**
 * `--loop-slice-us N`: each worker's loop thread (`mcr-loop`) gets a
 * scheduler slice of N µs (sched_setattr, Linux 6.12), read back from
 * /proc/PID/task/TID/sched (`se.slice`, the kernel's own view; that file
 * needs a kernel with scheduler debugging, and the test says so when it is
 * missing), the worker's other threads keep the kernel's slice, and the
 * relay forwards as before. A slice under the kernel's 100 µs is refused
 * before anything starts, with the range.
 */
import t from 'tap';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { MCRD, mcrdLab, workersOf } from './mcrd-harness.js';

/** Each thread's name and scheduler slice in ns (undefined where the kernel shows none). */
function slices(pid: number): Array<{ name: string; sliceNs: number | undefined }> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const sched = readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8');
    const slice = /^se\.slice\s*:\s*(\d+)/m.exec(sched)?.[1];
    return { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), sliceNs: slice === undefined ? undefined : Number(slice) };
  });
}

function writeConfig(dir: string): string {
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ daemon: { workers: 1 }, rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  return config;
}

t.test('--loop-slice-us gives the loop thread alone its slice', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!existsSync('/proc/self/sched') || !/^se\.slice\s*:/m.test(readFileSync('/proc/self/sched', 'utf8'))) {
    t.plan(0, 'this kernel shows no se.slice in /proc/PID/sched (no CONFIG_SCHED_DEBUG, or older than 6.6): the slice cannot be read back');
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'loopslice');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', writeConfig(dir), '--control-socket', socket, '--loop-slice-us', '150']);
  t.teardown(() => mcrd.stop().catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', `the worker runs (${worker?.reason ?? ''})`);
  const all = slices(worker?.pid ?? Number.NaN);
  const list = all.map((th) => `${th.name}:${th.sliceNs}`).join(' ');
  const loops = all.filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, `one loop thread: ${list}`);
  t.equal(loops[0]?.sliceNs, 150_000, 'the loop thread: a slice of 150 µs');
  t.ok(all.filter((th) => th.name !== 'mcr-loop').every((th) => th.sliceNs !== 150_000), `the worker's other threads keep the kernel's slice (${list})`);

  const sink = await startSink(rl, 0, { group: '239.2.2.1', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'the relay forwards everything');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd exits 0');
});

t.test('a slice under 100 µs is refused before mcrd starts, with the range', async (t) => {
  const r = await execa(process.execPath, [MCRD, '--loop-slice-us', '50', '--control-socket', '/nonexistent/mcrd.sock'], { reject: false, timeout: 20_000 });
  t.not(r.exitCode, 0, 'mcrd exits with an error');
  t.match(r.stderr, /--loop-slice-us/, 'names the flag');
  t.match(r.stderr, /0 or 100\.\.100000/, 'gives the range');
});
