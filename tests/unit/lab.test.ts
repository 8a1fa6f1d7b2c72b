/**
 * Tests for the network-namespace lab (bench/lab): the relay topology is
 * built and reachable hop by hop, VLAN addressing lands on the
 * sub-interfaces, processes stop by PID with escalation, and every
 * namespace is removed: by destroy(), by withLab() when the body throws,
 * and by the exit and signal hooks when a process dies without destroying;
 * what a SIGKILLed process left is removed by the next process's sweep.
 * Needs root; skips with the reason otherwise.
 */

import { execa } from 'execa';
import { existsSync } from 'node:fs';
import t from 'tap';
import {
  checkReachable,
  createRelayLab,
  Lab,
  LabError,
  skipUnlessRoot,
  skipUnlessVlan,
  withLab,
} from '../../bench/lab/index.js';
import { labNamespaceOwner, orphanNamespaces, removeOrphanNamespaces } from '../../bench/lab/orphans.js';

const LAB_URL = new URL('../../bench/lab/index.js', import.meta.url).href;

async function netnsList(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { timeout: 5000 });
  return r.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

async function rootLinkNames(): Promise<string[]> {
  const r = await execa('ip', ['-o', 'link', 'show'], { timeout: 5000 });
  return r.stdout.split('\n').map((line) => (line.split(': ')[1] ?? '').split('@')[0] ?? '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A PID that was SIGKILLed may linger as a zombie for a moment: poll, bounded. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** The exit code of a process result, or 'timeout' after `ms`. */
async function raceExit(result: Promise<{ exitCode?: number | undefined }>, ms: number): Promise<number | 'timeout' | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([result.then((r) => r.exitCode), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function addrsOn(lab: Lab, ns: string, ifname: string): Promise<string> {
  const r = await lab.exec(ns, 'ip', ['-o', '-4', 'addr', 'show', 'dev', ifname], { timeoutMs: 5000 });
  return r.stdout;
}

t.test('relay lab with two outputs: reachable hop by hop, then fully removed', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ outputs: 2 });
  t.teardown(() => rl.lab.destroy());
  const { lab } = rl;

  t.equal(rl.sinks.length, 2);
  t.same(
    rl.relay.outputs.map((o) => `${o.ifname} ${o.addr}`),
    ['out0 10.99.1.1', 'out1 10.99.2.1'],
  );
  t.same(rl.src, { ns: rl.src.ns, ifname: 'up0', addr: '10.99.0.1' });
  t.same(rl.relay.input, { ifname: 'in0', addr: '10.99.0.2' });
  t.same(
    rl.sinks.map((s) => `${s.ifname} ${s.addr}`),
    ['dn0 10.99.1.2', 'dn1 10.99.2.2'],
  );
  for (const ns of lab.namespaces) t.match(ns, new RegExp(`^mcr-${process.pid}-[0-9a-f]{4}-relay-`));
  t.same(lab.namespaces.length, 4, 'src, relay and two sinks');

  t.match(await addrsOn(lab, rl.relay.ns, 'in0'), /10\.99\.0\.2\/24/);
  t.match(await addrsOn(lab, rl.sinks[1]?.ns ?? '', 'dn1'), /10\.99\.2\.2\/24/);

  const routes = await lab.exec(rl.src.ns, 'ip', ['route', 'show', '224.0.0.0/4'], { timeoutMs: 5000 });
  t.match(routes.stdout, /224\.0\.0\.0\/4 dev up0/);
  const relayRoutes = await lab.exec(rl.relay.ns, 'ip', ['route', 'show', '224.0.0.0/4'], { timeoutMs: 5000 });
  t.match(relayRoutes.stdout, /224\.0\.0\.0\/4 dev out0/);
  const v6 = await lab.exec(rl.sinks[0]?.ns ?? '', 'ip', ['-6', '-o', 'addr', 'show'], { timeoutMs: 5000 });
  t.equal(v6.stdout.trim(), '', 'no IPv6 addresses in a sink');
  const sysctls = async (ns: string, keys: string[]): Promise<string[]> =>
    (await lab.exec(ns, 'sysctl', ['-n', ...keys], { timeoutMs: 5000 })).stdout.trim().split('\n');
  t.same(await sysctls(rl.relay.ns, ['net/ipv4/conf/all/rp_filter', 'net/ipv4/conf/default/rp_filter', 'net/ipv4/conf/in0/rp_filter',
    'net/ipv4/conf/out0/rp_filter', 'net/ipv4/conf/out1/rp_filter']), ['0', '0', '0', '0', '0'], 'rp_filter off in the relay: all, default, each link');
  t.same(await sysctls(rl.sinks[1]?.ns ?? '', ['net/ipv4/conf/all/rp_filter', 'net/ipv4/conf/dn1/rp_filter']), ['0', '0'], 'and in a sink');
  if (existsSync('/proc/sys/net/ipv6')) {
    t.same(await sysctls(rl.src.ns, ['net/ipv6/conf/all/disable_ipv6', 'net/ipv6/conf/default/disable_ipv6', 'net/ipv6/conf/up0/disable_ipv6']),
      ['1', '1', '1'], 'IPv6 off in src, on up0 too');
  }
  const links = await lab.exec(rl.relay.ns, 'ip', ['-o', 'link', 'show', 'up'], { timeoutMs: 5000 });
  for (const name of ['lo', 'in0', 'out0', 'out1']) t.match(links.stdout, new RegExp(`: ${name}[@:]`), `${name} is up in the relay`);

  const rootLinks = await rootLinkNames();
  for (const name of ['up0', 'in0', 'out0', 'out1', 'dn0', 'dn1']) {
    t.notOk(rootLinks.includes(name), `${name} is not in the root namespace`);
  }

  const method = await checkReachable(lab, rl.src.ns, rl.relay.ns, rl.relay.input.addr, 2000);
  t.pass(`src reaches relay input (${method})`);
  for (const sink of rl.sinks) {
    await checkReachable(lab, rl.relay.ns, sink.ns, sink.addr, 2000);
    t.pass(`relay reaches ${sink.ifname} ${sink.addr}`);
  }

  await lab.destroy();
  await lab.destroy(); // idempotent
  const after = await netnsList();
  for (const ns of lab.namespaces) t.notOk(after.includes(ns), `${ns} removed`);
  await t.rejects(lab.addNamespace('late'), { code: 'ERR_LAB_DESTROYED' });
});

t.test('VLAN variant: addresses live on the 802.1Q sub-interfaces', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (await skipUnlessVlan(t)) return;
  const rl = await createRelayLab({ outputs: 1, vlan: 100, mtu: 1400 });
  t.teardown(() => rl.lab.destroy());
  const { lab } = rl;

  t.equal(rl.src.ifname, 'up0.100');
  t.equal(rl.relay.input.ifname, 'in0.100');
  t.match(await addrsOn(lab, rl.relay.ns, 'in0.100'), /10\.99\.0\.2\/24/);
  t.match(await addrsOn(lab, rl.src.ns, 'up0.100'), /10\.99\.0\.1\/24/);
  t.equal((await addrsOn(lab, rl.relay.ns, 'in0')).trim(), '', 'the parent keeps no address');
  t.equal((await addrsOn(lab, rl.src.ns, 'up0')).trim(), '', 'the parent keeps no address');

  const details = await lab.exec(rl.relay.ns, 'ip', ['-d', 'link', 'show', 'dev', 'in0.100'], { timeoutMs: 5000 });
  t.match(details.stdout, /vlan protocol 802\.1Q id 100/);
  t.match(details.stdout, /mtu 1400/);
  const rp = await lab.exec(rl.relay.ns, 'sysctl', ['-n', 'net/ipv4/conf/in0.100/rp_filter'], { timeoutMs: 5000 });
  t.equal(rp.stdout.trim(), '0', 'rp_filter off on the VLAN interface');
  const routes = await lab.exec(rl.src.ns, 'ip', ['route', 'show', '224.0.0.0/4'], { timeoutMs: 5000 });
  t.match(routes.stdout, /dev up0\.100/);

  await checkReachable(lab, rl.src.ns, rl.relay.ns, rl.relay.input.addr, 2000);
  t.pass('src reaches relay across the VLAN');

  await lab.destroy();
  const after = await netnsList();
  for (const ns of lab.namespaces) t.notOk(after.includes(ns), `${ns} removed`);
});

t.test('a batch runs its steps in one shell: in order, stopping at the first failure, which it names', async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = await Lab.create('batch');
  t.teardown(() => lab.destroy());
  const a = await lab.addNamespace('a');
  const b = await lab.addNamespace('b');
  const linkNames = async (ns: string): Promise<string[]> => (await lab.exec(ns, 'ip', ['-o', 'link', 'show'], { timeoutMs: 5000 })).stdout
    .split('\n').map((line) => (line.split(': ')[1] ?? '').split('@')[0] ?? '').filter((n) => n !== '');

  // Every step, an optional one that fails among them.
  const steps = lab.batch()
    .sysctl(a, { 'net/ipv4/conf/all/rp_filter': 0 })
    .sysctl(a, { 'net/ipv4/no_such_key': 1 }, { optional: true })
    .addVeth(a, 'x0', b, 'y0', { mtu: 1400 })
    .addAddress(a, 'x0', '10.77.0.1/24')
    .setUp(a, 'x0')
    .addRoute(a, '224.0.0.0/4', 'dev', 'x0');
  t.equal(steps.length, 9, 'two sysctls, the veth and its two MTUs, the address, lo and x0 up, the route: nine steps');
  await steps.run();
  t.equal(steps.length, 0, 'run takes the steps it ran');
  t.same(await linkNames(b), ['lo', 'y0'], 'the veth\'s other end is in b');
  const x0 = (await lab.exec(a, 'ip', ['-o', 'addr', 'show', 'dev', 'x0'], { timeoutMs: 5000 })).stdout;
  t.match(x0, /10\.77\.0\.1\/24/, 'the address');
  t.match((await lab.exec(a, 'ip', ['route', 'show', '224.0.0.0/4'], { timeoutMs: 5000 })).stdout, /dev x0/, 'the route, added after x0 came up');

  // A failing step: its command and stderr, ERR_LAB_IP for iproute2; what follows it does not run.
  // The quote inside the argument reaches ip intact (it echoes it back).
  const failing = lab.batch().addRoute(a, "it's", 'dev', 'x0').setUp(a, 'x1').addVeth(a, 'x2', b, 'y2');
  await t.rejects(failing.run(), { code: 'ERR_LAB_IP', command: `ip -n ${a} route add it's dev x0`, stderr: /"it's"/ }, 'the failed step, named');
  t.notOk((await linkNames(a)).includes('x2'), 'the steps after it did not run');
  // A command in a namespace: ERR_LAB_EXEC.
  await t.rejects(lab.batch().sysctl(b, { 'net/ipv4/no_such_key': 1 }).run(), { code: 'ERR_LAB_EXEC', command: /sysctl -q -w net\/ipv4\/no_such_key=1$/ });

  // Checked when added: a namespace that is not the lab's, a bad argument.
  t.throws(() => lab.batch().setUp('mcr-not-ours', 'x0'), { code: 'ERR_LAB_NOT_OWNED' });
  t.throws(() => lab.batch().sysctl(a, { 'net/ipv4/conf/all/rp_filter': '0; reboot' }), { code: 'ERR_LAB_ARG' });
  t.throws(() => lab.batch().addAddress(a, 'x0', 'not-a-cidr'), { code: 'ERR_LAB_ARG' });
  await t.rejects(lab.sysctl(a, 'net/ipv4/conf/all/rp_filter', '0 1'), { code: 'ERR_LAB_ARG' }, 'a single sysctl is checked the same way');
  await lab.destroy();
  t.throws(() => lab.batch(), { code: 'ERR_LAB_DESTROYED' });
});

t.test('destroy reports a process the lab did not start that is still in a namespace, and removes the namespace', async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = await Lab.create('stray');
  t.teardown(() => lab.destroy());
  const ns = await lab.addNamespace('a');
  // Started through a shell that exits at once: not the lab's process.
  const stray = Number((await lab.exec(ns, 'sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'])).stdout.trim());
  t.ok(stray > 0, `a stray sleep, pid ${stray}`);
  t.teardown(() => {
    if (stray > 0 && alive(stray)) process.kill(stray, 'SIGKILL');
  });
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => {
    if (w.code === 'MCR_LAB_CLEANUP') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  await lab.destroy();
  await new Promise((resolve) => setImmediate(resolve));  // warnings are emitted on the next tick
  t.match(warnings, [new RegExp(`namespace ${ns} still has processes not started by the lab: ${stray}`)], 'reported with its pid');
  t.ok(alive(stray), 'and left alone: the lab ends only its own processes');
  t.notOk((await netnsList()).includes(ns), 'the namespace\'s name is removed all the same');
});

t.test('a relay lab that fails half-built leaves no namespace behind', async (t) => {
  if (skipUnlessRoot(t)) return;
  const ours = (names: string[]): string[] => names.filter((n) => n.startsWith(`mcr-${process.pid}-`));
  const before = ours(await netnsList());
  // The MTU is only checked at the first veth, after the namespaces exist.
  await t.rejects(createRelayLab({ outputs: 2, mtu: 50, tag: 'broken' }), { code: 'ERR_LAB_ARG' });
  t.same(ours(await netnsList()), before, 'no namespace of this process is left');
});

t.test('spawned processes stop by PID, with SIGKILL escalation', async (t) => {
  if (skipUnlessRoot(t)) return;
  const lab = await Lab.create('proc');
  t.teardown(() => lab.destroy());
  const ns = await lab.addNamespace('p');

  const sleeper = lab.spawn(ns, 'sleep', ['30']);
  t.ok(alive(sleeper.pid), 'sleep is running');
  const started = Date.now();
  const r = await sleeper.stop();
  t.equal(r.signal, 'SIGTERM');
  t.ok(Date.now() - started < 5000, 'stopped without waiting for escalation');
  t.ok(await goneWithin(sleeper.pid, 2000), 'the PID is gone');

  const stubborn = lab.spawn(ns, process.execPath, [
    '-e',
    "process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000);",
  ]);
  t.equal(await stubborn.waitForLine('stdout', /^ready$/, 10_000), 'ready');
  await t.rejects(stubborn.waitForLine('stdout', /never/, 100), { code: 'ETIMEDOUT' });
  const k = await stubborn.stop('SIGTERM', 500);
  t.equal(k.signal, 'SIGKILL', 'escalated to SIGKILL');
  t.ok(stubborn.stdoutLines.includes('ignored'), 'SIGTERM was delivered first');

  const quick = lab.spawn(ns, 'sh', ['-c', 'echo one; echo two >&2']);
  await t.rejects(quick.waitForLine('stdout', /three/, 5000), { code: 'ERR_LAB_EXITED' });
  t.same(quick.stdoutLines, ['one']);
  t.same(quick.stderrLines, ['two']);

  const cat = lab.spawn(ns, 'cat', [], { stdin: 'pipe' });
  cat.write('hello\n');
  t.equal(await cat.waitForLine('stdout', /^hello$/, 5000), 'hello', 'stdin reaches the process');
  cat.endInput();
  const catEnd = await raceExit(cat.result, 5000);
  t.equal(catEnd, 0, 'EOF on stdin ends cat');
  t.throws(() => quick.write('x'), { code: 'ERR_LAB_ARG' }, 'no stdin unless piped');

  t.throws(() => lab.spawn('not-ours', 'true', []), { code: 'ERR_LAB_NOT_OWNED' });
  await t.rejects(lab.addVeth(ns, 'eth0', ns, 'x1'), { code: 'ERR_LAB_ARG' });
  await t.rejects(lab.addVeth(ns, 'much-too-long-name', ns, 'x1'), { code: 'ERR_LAB_ARG' });
  const failed = await lab.exec(ns, 'sh', ['-c', 'exit 3'], { reject: false });
  t.equal(failed.exitCode, 3);
  await t.rejects(lab.exec(ns, 'sh', ['-c', 'exit 3']), { code: 'ERR_LAB_EXEC' });
  await t.rejects(lab.exec(ns, 'sleep', ['5'], { timeoutMs: 200 }), { code: 'ETIMEDOUT' });
});

t.test('destroy runs even when the test body throws', async (t) => {
  if (skipUnlessRoot(t)) return;
  let ns = '';
  let pid = 0;
  await t.rejects(
    withLab('throws', async (lab) => {
      ns = await lab.addNamespace('x');
      pid = lab.spawn(ns, 'sleep', ['30']).pid;
      throw new Error('boom');
    }),
    /boom/,
  );
  t.notOk((await netnsList()).includes(ns), `${ns} removed after the body threw`);
  t.ok(await goneWithin(pid, 2000), 'the spawned process was stopped');
});

// A child process builds a lab and then dies without destroy(): first by an
// uncaught exception ('exit' hook), then by SIGTERM (signal hook).
const CHILD = (mode: 'throw' | 'wait'): string => `
import { Lab } from ${JSON.stringify(LAB_URL)};
const lab = await Lab.create('child');
const ns = await lab.addNamespace('c');
const p = lab.spawn(ns, 'sleep', ['30']);
console.log('ns ' + ns + ' pid ' + p.pid);
${mode === 'throw' ? "setTimeout(() => { throw new Error('uncaught'); }, 10);" : 'setTimeout(() => {}, 20000);'}
`;

t.test('exit and signal hooks remove labs of a dying process', async (t) => {
  if (skipUnlessRoot(t)) return;
  for (const mode of ['throw', 'wait'] as const) {
    const child = execa(process.execPath, ['--input-type=module', '-e', CHILD(mode)], {
      reject: false,
      timeout: 20_000,
      buffer: true,
    });
    let line = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError('ETIMEDOUT', 'child printed nothing')), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        line += chunk.toString();
        if (line.includes('\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.then(() => {
        clearTimeout(timer);
        resolve();
      }, reject);
    });
    const m = /^ns (\S+) pid (\d+)/.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) {
      t.fail(`child said ${JSON.stringify(line)}`);
      child.kill('SIGKILL');
      continue;
    }
    const ns = m[1];
    const pid = Number(m[2]);
    if (mode === 'wait') child.kill('SIGTERM');
    const r = await child;
    if (mode === 'throw') t.not(r.exitCode, 0, 'the child died of its exception');
    else t.equal(r.signal, 'SIGTERM', 'the child died of the re-raised SIGTERM');
    t.notOk((await netnsList()).includes(ns), `${mode}: ${ns} removed by the hook`);
    t.ok(await goneWithin(pid, 2000), `${mode}: the child's lab process was killed`);
  }
});

t.test('orphanNamespaces: only lab names whose owner PID is gone', async (t) => {
  const list = [
    'mcr-4242-ab12-consume2-relay (id: 3)',
    'mcr-4243-00ff-x-src',
    `mcr-${process.pid}-abcd-mine-relay`,
    'mcr-0-abcd-zero-relay',
    'mcr-notapid-abcd-x-y',
    'other-ns',
    '',
  ].join('\n');
  t.same(orphanNamespaces(list, (pid) => pid === 4243), ['mcr-4242-ab12-consume2-relay'],
    'a dead owner is an orphan; a live owner, this process, PID 0 and foreign names are not');
  t.equal(labNamespaceOwner('mcr-17-0a0b-t-r'), 17);
  t.equal(labNamespaceOwner('mcr-17-t-r'), undefined, 'no random part: not a lab name');
});

t.test('a lab of a SIGKILLed process is removed by the next sweep', async (t) => {
  if (skipUnlessRoot(t)) return;
  const child = execa(process.execPath, ['--input-type=module', '-e', CHILD('wait')], { reject: false, timeout: 20_000, buffer: true });
  const line = await new Promise<string>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(out), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
  const m = /^ns (\S+) pid (\d+)/.exec(line);
  if (m?.[1] === undefined || m[2] === undefined) {
    t.fail(`child said ${JSON.stringify(line)}`);
    child.kill('SIGKILL');
    await child;
    return;
  }
  const ns = m[1];
  const sleeper = Number(m[2]);
  child.kill('SIGKILL');
  t.equal((await child).signal, 'SIGKILL');
  t.ok((await netnsList()).includes(ns), 'no hook runs on SIGKILL: the namespace is left');
  // The child's `sleep` outlives it; this test started it (through the child), so ends it by its PID.
  if (sleeper > 0 && alive(sleeper)) process.kill(sleeper, 'SIGKILL');
  t.ok(await goneWithin(sleeper, 2000), 'the orphaned sleep is gone');
  const warnings: string[] = [];
  const removed = await removeOrphanNamespaces((msg) => warnings.push(msg));
  // Any process's first lab sweeps every orphan: a lab test running beside this one (another
  // tap file, another checkout) may have swept it between the kill and this sweep. Then it is
  // gone all the same, which is what the sweep promises; its warning went to that process.
  const sweptElsewhere = !removed.includes(ns) && !(await netnsList()).includes(ns);
  if (sweptElsewhere) t.comment(`${ns} was swept by another process's lab before this sweep`);
  t.ok(removed.includes(ns) || sweptElsewhere, `the sweep removed ${ns}`);
  t.notOk((await netnsList()).includes(ns), 'and it is gone from ip netns list');
  if (!sweptElsewhere) t.ok(warnings.some((w) => w.includes(ns) && /process is gone/.test(w)), 'with a warning naming it');
});
