/**
 * The addon's handover and start-up calls: SCM_RIGHTS fd passing over a
 * SOCK_SEQPACKET pair (close-on-exec, truncation is an error, no fd leaks),
 * CPU pinning, the privilege drop and the parent-death signal. Calls that
 * change the process run in a child so the test runner is never pinned or
 * demoted.
 */
import { availableParallelism } from 'node:os';
import t from 'tap';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { ROOT } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const openFds = (): number => readdirSync('/proc/self/fd').length;
const isCloexec = (fd: number): boolean => {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
  return (parseInt(flags, 8) & 0o2000000) !== 0;
};
const runChild = (code: string) =>
  execa(process.execPath, ['--input-type=module', '-e', `import { native } from '${NATIVE}';\n${code}`], {
    reject: false,
    timeout: 20_000,
  });

t.test('fds cross a seqpacket pair intact and close-on-exec', async (t) => {
  const [a, b] = native.socketPair('seqpacket');
  const file = openSync('/dev/null', 'r');
  native.sendFds(a, [file, file], Buffer.from('packet+command'));
  const got = native.recvFds(b, 1000);
  t.equal(got.fds.length, 2);
  t.equal(got.data.toString(), 'packet+command', 'payload kept');
  for (const fd of got.fds) {
    t.equal(fstatSync(fd).ino, fstatSync(file).ino, 'same open file');
    t.ok(isCloexec(fd), 'received with MSG_CMSG_CLOEXEC');
    closeSync(fd);
  }
  t.ok(isCloexec(a) && isCloexec(b), 'the pair itself is close-on-exec');
  for (const fd of [file, a, b]) closeSync(fd);
});

t.test('more fds than the receiver allows is EMSGSIZE and leaks nothing', async (t) => {
  const [a, b] = native.socketPair('seqpacket');
  const file = openSync('/dev/null', 'r');
  const before = openFds();
  native.sendFds(a, [file, file, file], Buffer.from('x'));
  t.throws(() => native.recvFds(b, 1000, 1), { code: 'EMSGSIZE', syscall: 'recvmsg' });
  t.equal(openFds(), before, 'no received fd left open');
  for (const fd of [file, a, b]) closeSync(fd);
});

t.test('waiting is bounded, and a closed peer is reported', async (t) => {
  const [a, b] = native.socketPair('seqpacket');
  t.throws(() => native.recvFds(b, 50), { code: 'ETIMEDOUT' });
  closeSync(a);
  t.throws(() => native.recvFds(b, 1000), { code: 'ECONNRESET' });
  closeSync(b);
  t.throws(() => native.socketPair('dgram' as 'stream'), { code: 'ERR_MCR_INVALID_ARG' });
});

t.test('pinToCpus pins every thread of the process', async (t) => {
  const r = await runChild(`native.pinToCpus([0]);
    const fs = await import('node:fs');
    const tasks = fs.readdirSync('/proc/self/task');
    const lists = tasks.map((id) => /Cpus_allowed_list:\\s*(\\S+)/.exec(fs.readFileSync('/proc/self/task/' + id + '/status', 'utf8'))[1]);
    console.log(JSON.stringify(lists));`);
  t.equal(r.exitCode, 0, r.stderr);
  const lists = JSON.parse(r.stdout) as string[];
  t.ok(lists.length > 1, 'several threads checked');
  t.ok(lists.every((l) => l === '0'), `all on CPU 0: ${lists.join(' ')}`);
});

t.test('pinToCpus takes a set of CPUs, and refuses an empty or out-of-range one', async (t) => {
  if (availableParallelism() < 2) {
    t.plan(0, 'needs two CPUs');
    return;
  }
  const r = await runChild(`native.pinToCpus([0, 1]);
    const fs = await import('node:fs');
    const lists = fs.readdirSync('/proc/self/task').map((id) =>
      /Cpus_allowed_list:\\s*(\\S+)/.exec(fs.readFileSync('/proc/self/task/' + id + '/status', 'utf8'))[1]);
    for (const bad of [[], [-1], [1 << 20]]) {
      try { native.pinToCpus(bad); console.log('accepted ' + JSON.stringify(bad)); } catch (err) { lists.push(err.code); }
    }
    console.log(JSON.stringify(lists));`);
  t.equal(r.exitCode, 0, r.stderr);
  const out = JSON.parse(r.stdout) as string[];
  t.same(out.slice(-3), ['EINVAL', 'EINVAL', 'EINVAL'], 'empty, negative and too large lists refused with EINVAL');
  t.ok(out.slice(0, -3).every((l) => l === '0-1'), `every thread on CPUs 0-1: ${out.join(' ')}`);
});

t.test('dropPrivileges leaves no capability', async (t) => {
  if (process.getuid?.() !== 0) {
    t.plan(0, 'needs root to switch users');
    return;
  }
  const r = await runChild(`const ids = native.lookupUser('nobody');
    native.dropPrivileges(ids.uid, ids.gid);
    const status = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');
    console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
      capEff: /CapEff:\\s*(\\S+)/.exec(status)[1], capPrm: /CapPrm:\\s*(\\S+)/.exec(status)[1],
      noNewPrivs: /NoNewPrivs:\\s*(\\S+)/.exec(status)[1], mask: String(native.effectiveCapabilities()) }));`);
  t.equal(r.exitCode, 0, r.stderr);
  const after = JSON.parse(r.stdout) as Record<string, unknown>;
  const nobody = native.lookupUser('nobody');
  t.equal(after.uid, nobody.uid, 'uid switched');
  t.equal(after.gid, nobody.gid, 'gid switched');
  t.same(after.groups, [nobody.gid], 'no supplementary groups kept');
  t.equal(after.capEff, '0000000000000000', 'CapEff empty');
  t.equal(after.capPrm, '0000000000000000', 'CapPrm empty');
  t.equal(after.noNewPrivs, '1');
  t.equal(after.mask, '0');
  t.throws(() => native.lookupUser('no-such-user-mcr'), { code: 'ENOENT' });
});

t.test('dieWithParent: the child dies when its parent is killed', async (t) => {
  // parent (node) spawns a child that arms PDEATHSIG and waits; SIGKILL the
  // parent and the child must be gone without anyone signalling it.
  const parent = execa(process.execPath, ['--input-type=module', '-e', `
    import { spawn } from 'node:child_process';
    const child = spawn(process.execPath, ['--input-type=module', '-e',
      "import { native } from '${NATIVE}'; native.dieWithParent(9, process.ppid); console.log('armed ' + process.pid); setInterval(() => {}, 1000);"],
      { stdio: ['ignore', 'inherit', 'inherit'] });
    setInterval(() => {}, 1000);`], { reject: false, timeout: 20_000 });
  const childPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child never armed')), 10_000);
    parent.stdout?.on('data', (chunk: Buffer) => {
      const m = /armed (\d+)/.exec(chunk.toString());
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  parent.kill('SIGKILL');
  await parent;
  const deadline = Date.now() + 5000;
  let alive = true;
  while (alive && Date.now() < deadline) {
    try {
      process.kill(childPid, 0);
      await new Promise((r) => setTimeout(r, 20));
    } catch {
      alive = false;
    }
  }
  t.notOk(alive, 'no orphan left');
});

t.test('raiseOpenFilesLimit raises the soft limit as far as the hard one allows, never lowers it', async (t) => {
  // A child with a low soft limit under a higher hard one (the shell's ulimit -S).
  const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
  if (!(hard >= 4096)) {
    t.pass(`skipped: the hard open-files limit here (${hard}) is below 4096`);
    return;
  }
  const r = await execa('sh', ['-c', `ulimit -Sn 1024 && exec "$0" --input-type=module -e "$1"`, process.execPath,
    `import { native } from '${NATIVE}';
     import { readFileSync } from 'node:fs';
     const soft = () => Number(/^Max open files\\s+(\\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))[1]);
     const before = soft();
     const kept = native.raiseOpenFilesLimit(16);
     const raised = native.raiseOpenFilesLimit(4096);
     console.log(JSON.stringify({ before, kept, raised, after: soft() }));`], { reject: false, timeout: 20_000 });
  t.equal(r.exitCode, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: number; kept: number; raised: number; after: number };
  // Node raises its own soft limit to the hard one at start, so the child may begin above 1024.
  t.ok(out.kept >= out.before, `a lower wish leaves the limit (${out.before} -> ${out.kept})`);
  t.ok(out.raised >= 4096 && out.after === out.raised, `raised to ${out.raised} (in force: ${out.after})`);
});
