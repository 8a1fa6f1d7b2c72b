/**
 * The Debian package end to end, as root on this machine: build it
 * (packaging/build-deb.sh, dpkg-deb), check what it holds, `apt-get install`
 * it, run `mcrd --version` and `mcrctl --help`, `systemd-analyze verify` the
 * installed units, then start mcrd the way mcrd@NS.service does (its
 * ExecStart with %i = the lab's relay namespace, its CapabilityBoundingSet,
 * Group=, NoNewPrivileges=, LimitNOFILE= and LimitRTPRIO= reproduced with
 * setpriv and prlimit (the limits as far as this machine lets root raise
 * them), since no systemd is PID 1 here; the file-system sandboxing is not
 * reproduced) with the installed demo config, and forward the demo's
 * streams with the installed mcrgen and mcrsink. A user the test creates in
 * group mcr runs mcrctl (and the unit's ExecReload), nobody cannot, and the
 * mutating requests are logged with the member's uid. `apt-get remove`
 * stops the running mcrd (the prerm) and leaves only the conffile (and the
 * worker logs, kept until the purge); `apt-get purge` leaves nothing, the
 * user and group mcr included. Then with an account mcr made before the
 * package (useradd -U: its primary group is mcr, the socket's): the
 * postinst warns, mcrd refuses to start (exit 2, ERR_MCR_WORKER_GROUP),
 * and the purge leaves the account. Everything is removed even on failure.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SCHED_FIFO, SCHED_OTHER, skipUnlessRoot, threadsOf } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { planDemo } from '../../../bench/demo/plan.js';
import { loadConfig } from '../../../supervisor/config/index.js';
import { ROOT } from '../harness.js';
import { mcrdLab } from '../mcrd-harness.js';

const APT = ['-o', 'DPkg::Lock::Timeout=120', '-y', '-q'];

// 138 to 260 s on this project's 2-core machine at load 16 to 22 (other
// test runs beside it), most of it dpkg and apt-get; over tap's default
// 300 s so that a busy host does not cut it short.
t.setTimeout(600_000);
const PKG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Runs a command with a clean environment, as a service or a login would
 * have it: none of the test runner's NODE_OPTIONS reaches mcrctl.
 */
const CLEAN_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' };

async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | undefined; out: string; err: string }> {
  const r = await execa(cmd, args, { reject: false, timeout: timeoutMs, extendEnv: false, env: CLEAN_ENV });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}

async function must(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code)}: ${r.err || r.out}`);
  return r.out;
}

/** dpkg's view of a package: "install ok installed 20.1-1", or undefined when dpkg does not know it. */
async function dpkgStatus(pkg: string): Promise<string | undefined> {
  const r = await run('dpkg-query', ['-W', '-f', '${Status} ${Version}', pkg]);
  return r.code === 0 ? r.out : undefined;
}

const exists = async (db: 'passwd' | 'group', name: string): Promise<boolean> => (await run('getent', [db, name])).code === 0;
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';

/** Why this machine cannot run the test, or undefined. */
async function unavailable(): Promise<string | undefined> {
  for (const tool of ['dpkg-deb', 'apt-get', 'systemd-analyze', 'setpriv', 'prlimit', 'useradd']) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is missing (dpkg, apt, systemd, util-linux, passwd)`;
  }
  const node = await dpkgStatus('nodejs');
  const major = Number(/^install ok installed (\d+)/.exec(node ?? '')?.[1]);
  if (!(major >= 20)) {
    return `Node.js >= 20 is not installed as a Debian package (dpkg: ${node ?? 'unknown'}); the package Depends: nodejs (>= 20) and its wrappers run /usr/bin/node`;
  }
  const mcr = await dpkgStatus('mcr');
  if (mcr !== undefined && !mcr.startsWith('unknown') && !mcr.startsWith('deinstall ok not-installed')) {
    return `a package mcr is already on this machine (${mcr}): this test installs and purges it`;
  }
  if (await exists('passwd', 'mcr') || await exists('group', 'mcr')) return 'a user or group mcr already exists: this test creates and deletes them';
  return undefined;
}

/** One line of /proc/PID/status ("Uid", "Groups", "CapEff"), whitespace-normalised; '' when empty. */
function procStatus(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return line.slice(field.length + 1).trim().split(/\s+/).filter((w) => w !== '').join(' ');
}

/** Capability names of a unit's CapabilityBoundingSet= as setpriv wants them (net_raw, ...). */
function unitSetting(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  if (m?.[1] === undefined) throw new Error(`the unit has no ${key}= line`);
  return m[1].trim();
}

/** Bit mask of capability numbers, as /proc/PID/status prints it (16 hex digits). */
const CAP_NUMBERS: Record<string, number> = { CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13 };
function capMask(names: string[]): string {
  let mask = 0n;
  for (const n of names) {
    const bit = CAP_NUMBERS[n];
    if (bit === undefined) throw new Error(`no number known for ${n}: add it to CAP_NUMBERS`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}

t.test('the .deb: build, install, run as mcrd@ would, mcrctl for group mcr, remove, purge', async (t) => {
  if (skipUnlessRoot(t)) return;
  const why = await unavailable();
  if (why !== undefined) {
    t.plan(0, why);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'mcr-pkg-'));
  const member = `mcrt${process.pid % 100_000}`;
  let instanceConfig: string | undefined;
  /** The test made an account mcr itself (the last step), to delete at the end. */
  let madeMcr = false;
  // One cleanup, in order: the package (its prerm stops any mcrd it runs),
  // the test's files and user. Synchronous, so that it also runs from the
  // exit hook when tap ends the process at its timeout (teardowns do not).
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    const sh = (cmd: string, args: string[]): void => void spawnSync(cmd, args, { stdio: 'ignore', timeout: 180_000, env: CLEAN_ENV });
    if (instanceConfig !== undefined) rmSync(instanceConfig, { force: true });
    const st = spawnSync('dpkg-query', ['-W', '-f', '${Status}', 'mcr'], { encoding: 'utf8', env: CLEAN_ENV }).stdout;
    if (st !== '' && !st.startsWith('unknown') && !st.startsWith('deinstall ok not-installed')) sh('apt-get', ['purge', ...APT, 'mcr']);
    if (spawnSync('getent', ['passwd', member]).status === 0) sh('userdel', [member]);
    if (spawnSync('getent', ['group', member]).status === 0) sh('groupdel', [member]);
    if (madeMcr && spawnSync('getent', ['passwd', 'mcr']).status === 0) sh('userdel', ['mcr']);
    if (madeMcr && spawnSync('getent', ['group', 'mcr']).status === 0) sh('groupdel', ['mcr']);
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  t.teardown(() => {
    cleanup();
    process.off('exit', cleanup);
  });

  // --- build ---
  const built = Date.now();
  const deb = (await must('bash', [join(ROOT, 'packaging', 'build-deb.sh'), '--out', scratch], 240_000)).trim().split('\n').pop() ?? '';
  const arch = (await must('dpkg', ['--print-architecture'])).trim();
  t.equal(deb, join(scratch, `mcr_${PKG_VERSION}_${arch}.deb`), `built ${deb} in ${Date.now() - built} ms`);
  const listing = await must('dpkg-deb', ['-c', deb]);
  const paths = new Set(listing.split('\n').map((l) => l.split(/\s+/)[5]?.replace(/^\./, '')).filter((p): p is string => p !== undefined));
  for (const p of ['/opt/mcr/build/Release/mcr_native.node', '/opt/mcr/build/Release/mcrgen', '/opt/mcr/build/Release/mcrsink',
    '/opt/mcr/build/Release/mcrinject', '/opt/mcr/dist/supervisor/mcrd.js', '/opt/mcr/dist/worker/fleet-worker.js',
    '/opt/mcr/node_modules/pino/package.json', '/usr/bin/mcrd', '/usr/bin/mcrctl', '/usr/bin/mcrgen', '/usr/bin/mcrsink',
    '/usr/lib/systemd/system/mcrd.service', '/usr/lib/systemd/system/mcrd@.service', '/usr/lib/sysusers.d/mcr.conf',
    '/usr/lib/tmpfiles.d/mcr.conf', '/etc/mcr/mcrd.json5', '/etc/logrotate.d/mcr', '/usr/share/man/man8/mcrd.8.gz', '/usr/share/man/man8/mcrctl.8.gz',
    '/usr/share/doc/mcr/deploy.md', '/usr/share/doc/mcr/copyright']) {
    t.ok(paths.has(p), `the package holds ${p}`);
  }
  const shipped = [...paths];
  t.same(shipped.filter((p) => /\/node_modules\/(typescript|tap|execa|@types)\/|\/dist\/(tests|bench)\/|^\/opt\/mcr\/dist\/.*\.map$/.test(p)), [],
    'no devDependency, test, benchmark or source map');
  t.equal((await must('dpkg-deb', ['-f', deb, 'Depends'])).trim(), 'nodejs (>= 20), liburing2, iproute2, libc6, libstdc++6, systemd | adduser');
  t.equal((await must('dpkg-deb', ['-f', deb, 'Recommends'])).trim(), 'logrotate');
  const conffiles = (await must('sh', ['-c', `dpkg-deb --ctrl-tarfile '${deb}' | tar -xOf - ./conffiles`])).trim();
  t.equal(conffiles, '/etc/logrotate.d/mcr\n/etc/mcr/mcrd.json5', 'the conffiles: the logrotate config and the config');

  // --- install ---
  const installed = Date.now();
  await must('apt-get', ['install', ...APT, deb], 240_000);
  t.match(await dpkgStatus('mcr'), /^install ok installed /, `apt-get install took ${Date.now() - installed} ms`);
  t.equal((await must('mcrd', ['--version'])).trim(), PKG_VERSION, 'mcrd --version');
  t.match(await must('mcrctl', ['--help']), /Usage: mcrctl/, 'mcrctl --help');
  const man = (await run('sh', ['-c', 'command -v man'])).code === 0;
  const verify = await run('systemd-analyze', ['verify', `--man=${man ? 'yes' : 'no'}`,
    '/usr/lib/systemd/system/mcrd.service', '/usr/lib/systemd/system/mcrd@lab.service']);
  t.equal(verify.code, 0, `systemd-analyze verify (man pages checked: ${man}): ${verify.err}`);
  t.equal(verify.err.trim(), '', 'verify has nothing to say');
  t.ok(await exists('group', 'mcr'), 'group mcr');
  const mcrUser = (await must('getent', ['passwd', 'mcr'])).split(':');
  const mcrGid = Number((await must('getent', ['group', 'mcr'])).split(':')[2]);
  t.equal(mcrUser[3], '65534', 'user mcr\'s primary group is nogroup, not mcr: workers cannot reach the control socket');
  const run0 = statSync('/run/mcr');
  t.ok(run0.isDirectory() && (run0.mode & 0o777) === 0o755 && run0.gid === mcrGid, '/run/mcr 0755 root:mcr (tmpfiles)');

  // The two units differ only where the instance does.
  const unit = readFileSync('/usr/lib/systemd/system/mcrd.service', 'utf8');
  const template = readFileSync('/usr/lib/systemd/system/mcrd@.service', 'utf8');
  const settings = (u: string): string[] => u.split('\n').filter((l) => /^[A-Z]\w+=/.test(l) && !/%i|^Description=/.test(l));
  t.same(settings(template).filter((l) => !/^(LogsDirectory|AssertPathExists|NetworkNamespacePath)=/.test(l)),
    settings(unit).filter((l) => !/^(ExecStart|ExecReload|LogsDirectory)=/.test(l)), 'mcrd@ has mcrd.service\'s hardening');

  // --- mcrd as mcrd@NS.service starts it ---
  const labAt = Date.now();
  const { rl } = await mcrdLab(t, 'pkg', { outputs: 2 });
  const ns = rl.relay.ns;
  t.ok(existsSync(`/run/netns/${ns}`), `NetworkNamespacePath=/run/netns/${ns} exists`);
  instanceConfig = `/etc/mcr/${ns}.json5`;
  copyFileSync('/usr/share/doc/mcr/demo.json5', instanceConfig);
  const expand = (line: string): string[] => line.replaceAll('%i', ns).split(/\s+/);
  const execStart = expand(unitSetting(template, 'ExecStart'));
  const execReload = expand(unitSetting(template, 'ExecReload'));
  const caps = unitSetting(template, 'CapabilityBoundingSet').split(/\s+/);
  const bounding = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  // LimitNOFILE=, as far as this machine lets root raise the hard limit
  // (without CAP_SYS_RESOURCE, as in some containers, not past its own).
  const hard = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const nofile = Math.min(Number(unitSetting(template, 'LimitNOFILE')), Number(hard ?? Infinity));
  // LimitRTPRIO= the same way (this project's machines: hard limit 0, so
  // the workers' loops run under the normal policy here, as "auto" says).
  const rtprioHard = /^Max realtime priority\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const rtprio = Math.min(Number(unitSetting(template, 'LimitRTPRIO')), rtprioHard === 'unlimited' ? 99 : Number(rtprioHard ?? 0));
  t.equal(unitSetting(template, 'RestrictRealtime'), 'no', 'the unit lets the loops take SCHED_FIFO');
  t.equal(unitSetting(template, 'LimitRTPRIO'), '10', 'up to priority 10, what --loop-rt-priority auto takes (mcrd.service has the same: compared above)');
  t.equal(unitSetting(template, 'Group'), 'mcr');
  t.equal(unitSetting(template, 'NoNewPrivileges'), 'yes');
  // The limit first: after setpriv, root has no CAP_SYS_RESOURCE to set it.
  const mcrd = rl.lab.spawn(ns, 'env', ['-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'prlimit', `--nofile=${nofile}:${nofile}`, `--rtprio=${rtprio}:${rtprio}`,
    'setpriv', '--regid', 'mcr', '--clear-groups', '--bounding-set', bounding, '--no-new-privs', ...execStart]);
  try {
    await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; its stderr: ${mcrd.stderrLines.slice(-5).join(' | ')}`);
  }
  t.pass(`mcrd ready with LimitNOFILE ${nofile}, ${Date.now() - labAt} ms after the lab was asked for`);
  t.equal(procStatus(mcrd.pid, 'Uid'), '0 0 0 0', 'mcrd runs as uid 0');
  t.equal(procStatus(mcrd.pid, 'Gid'), `${mcrGid} ${mcrGid} ${mcrGid} ${mcrGid}`, 'in group mcr (Group=mcr)');
  t.equal(procStatus(mcrd.pid, 'CapBnd'), capMask(caps), `bounding set ${caps.join(' ')}`);
  t.equal(procStatus(mcrd.pid, 'NoNewPrivs'), '1');
  const socket = `/run/mcr/${ns}.sock`;
  const sock = statSync(socket);
  t.ok(sock.isSocket() && (sock.mode & 0o777) === 0o660 && sock.uid === 0 && sock.gid === mcrGid, `${socket} is 0660 root:mcr`);

  // --- a member of group mcr drives it; nobody cannot ---
  await must('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', '--groups', 'mcr', member]);
  const memberUid = Number((await must('id', ['-u', member])).trim());
  const as = (user: string, args: string[]): Promise<{ code: number | undefined; out: string; err: string }> =>
    // env -u: whatever NODE_OPTIONS the runner has (tests/tap-child-env.ts takes out only tap's hook) stays away from mcrctl.
    run('env', ['-u', 'NODE_OPTIONS', 'setpriv', '--reuid', user, '--regid', user === 'nobody' ? 'nogroup' : user, '--init-groups', ...args], 30_000);
  // Workers switch user once started: wait (bounded) until both run and have
  // switched, since a busy host may still be starting or restarting one.
  let list: Array<{ pid: number; state: string }> = [];
  let listed = { code: 0 as number | undefined, err: '' };
  const mcrUid = mcrUser[2] ?? '';
  const switched = (pid: number): boolean => {
    try {
      return procStatus(pid, 'Uid') === `${mcrUid} ${mcrUid} ${mcrUid} ${mcrUid}`;
    } catch {
      return false;
    }
  };
  await pollUntil(async () => {
    const r = await as(member, ['/usr/bin/mcrctl', '--socket', socket, '--json', 'workers']);
    listed = r;
    if (r.code !== 0) return true;
    list = (JSON.parse(r.out) as { workers: Array<{ pid: number; state: string }> }).workers;
    return list.length === 2 && list.every((w) => w.state === 'running' && switched(w.pid));
  }, 30_000, 500);
  t.equal(listed.code, 0, `mcrctl workers as ${member} (group mcr): ${listed.err}`);
  t.same(list.map((w) => w.state), ['running', 'running'], 'demo.json5\'s 2 workers for in0 run');
  for (const w of list) {
    t.equal(procStatus(w.pid, 'Uid'), `${mcrUid} ${mcrUid} ${mcrUid} ${mcrUid}`, `worker ${w.pid} runs as mcr`);
    t.equal(procStatus(w.pid, 'Gid'), '65534 65534 65534 65534', 'with group nogroup');
    t.equal(procStatus(w.pid, 'Groups'), '', 'and no supplementary group (not mcr)');
    t.equal(procStatus(w.pid, 'CapEff'), '0000000000000000', 'no effective capability');
    t.equal(procStatus(w.pid, 'CapPrm'), '0000000000000000', 'no permitted capability');
    const loops = threadsOf(w.pid).filter((th) => th.name === 'mcr-loop');
    const want = Math.min(rtprio, 10);
    t.strictSame(loops.map((th) => [th.policy, th.rtPriority]), [want > 0 ? [SCHED_FIFO, want] : [SCHED_OTHER, 0]],
      `its loop thread: ${want > 0 ? `SCHED_FIFO ${want}` : 'the normal policy'} under LimitRTPRIO ${rtprio} (the unit's ${unitSetting(template, 'LimitRTPRIO')}, as far as this machine's hard limit lets)`);
  }
  const refused = await as('nobody', ['/usr/bin/mcrctl', '--socket', socket, 'ping']);
  t.not(refused.code, 0, 'nobody (not in group mcr) cannot use the socket');
  t.match(refused.err, /EACCES/);

  // --- the demo's streams through the installed tools ---
  const plan = planDemo(loadConfig(instanceConfig), { inputIfname: rl.relay.input.ifname, relayOutputs: rl.relay.outputs, sinks: rl.sinks }, instanceConfig);
  const count = 3000;
  const sinks = await Promise.all(plan.sinks.map(async (s) => {
    const sink = rl.sinks[s.sink];
    if (sink === undefined) throw new Error(`no sink ${s.sink}`);
    const proc = rl.lab.spawn(sink.ns, '/usr/bin/mcrsink', [...s.args, '--count', String(count), '--duration', '30', '--idle', '3']);
    await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
    return { label: s.label, proc };
  }));
  const sent = await Promise.all(plan.streams.map(async (s) => {
    const out = await rl.lab.exec(rl.src.ns, '/usr/bin/mcrgen', ['--dest', s.dest, '--port', String(s.port), '--interface', rl.src.ifname,
      '--count', String(count), '--rate', '2000', '--size', '200', '--stream', String(s.stream), '--duration', '30'], { timeoutMs: 40_000 });
    return (JSON.parse(out.stdout) as { sent: number }).sent;
  }));
  t.same(sent, plan.streams.map(() => count), 'mcrgen sent every stream');
  for (const s of sinks) {
    const report = JSON.parse(await s.proc.waitForLine('stdout', /^\{/, 40_000)) as { received: number };
    t.ok(report.received >= count * 0.99, `${s.label}: ${report.received}/${count} received`);
  }

  // --- the packaged logrotate config rotates the worker logs; the next line starts a new file ---
  const logDir = `/var/log/mcr/${ns}`;
  const workerLog = join(logDir, `${rl.relay.input.ifname}_0.log`);
  if ((await run('sh', ['-c', 'command -v logrotate'])).code !== 0) {
    t.test('the packaged /etc/logrotate.d/mcr rotates the worker logs', { skip: 'logrotate is missing (Debian logrotate, which .ci/run installs)' }, () => undefined);
  } else {
    t.ok(existsSync(workerLog), `${workerLog} exists (--log-dir of the unit)`);
    const rotated = await run('logrotate', ['--force', '--state', join(scratch, 'logrotate.state'), '/etc/logrotate.d/mcr']);
    t.equal(rotated.code, 0, `logrotate --force /etc/logrotate.d/mcr: ${rotated.err}`);
    t.ok(readdirSync(logDir).includes(`${rl.relay.input.ifname}_0.log.1`), 'the worker log was rotated');
    const output = rl.relay.outputs[0]?.ifname ?? 'out0';
    const added = await as(member, ['/usr/bin/mcrctl', '--socket', socket, 'add', '--name', 'rotation', '--input-interface', rl.relay.input.ifname,
      '--input-group', '239.9.9.9', '--input-port', '5999', '--outputs', `239.9.9.10:6999:${output}`]);
    t.equal(added.code, 0, `mcrctl add as ${member}: ${added.err}`);
    t.ok(await pollUntil(async () => existsSync(workerLog) && /"msg":"rule added"/.test(readFileSync(workerLog, 'utf8')), 10_000),
      'the next worker line starts a new file: mcrd needs no signal');
    t.equal((await as(member, ['/usr/bin/mcrctl', '--socket', socket, 'remove', '--name', 'rotation'])).code, 0, 'and the rule removed again');
  }

  // --- mutating requests from the member: logged with its uid ---
  const level = await as(member, ['/usr/bin/mcrctl', '--socket', socket, 'log-level', 'set', 'info']);
  t.equal(level.code, 0, `mcrctl log-level set as ${member}: ${level.err}`);
  await mcrd.waitForLine('stdout', new RegExp(`"uid":${memberUid},.*"msg":"control request logLevelSet from uid ${memberUid}"`), 10_000);
  const reload = await as(member, execReload);
  t.equal(reload.code, 0, `the unit's ExecReload (${execReload.join(' ')}) as ${member}: ${reload.err}`);
  await mcrd.waitForLine('stdout', new RegExp(`"msg":"control request reload from uid ${memberUid}"`), 10_000);
  t.pass('log-level set and reload logged with the member\'s uid');

  // --- remove: the prerm stops mcrd; only the conffile (and logs) stay ---
  const workerPids = list.map((w) => w.pid);
  rmSync(instanceConfig, { force: true });
  const removed = Date.now();
  const removal = await run('apt-get', ['remove', ...APT, 'mcr'], 180_000);
  t.equal(removal.code, 0, `apt-get remove took ${Date.now() - removed} ms: ${removal.err}`);
  const ended = await mcrd.result;
  t.match(removal.out + removal.err, new RegExp(`mcr prerm: stopping mcrd ${String(mcrd.pid)}, which no systemd unit runs: /usr/bin/node /opt/mcr/dist/supervisor/mcrd\\.js `),
    'the prerm names the mcrd it stopped that no unit runs, with its command line');
  t.equal(ended.exitCode, 0, 'mcrd was stopped by SIGTERM from the prerm and drained');
  // The worker's own last line, written only by a drained stop: a worker
  // the prerm signalled itself would have died without it.
  const workerLines = [workerLog, `${workerLog}.1`].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('');
  t.match(workerLines, /worker stopped: final counters/, 'the worker was stopped by mcrd\'s drain, not signalled by the prerm');
  t.same(workerPids.filter(alive), [], 'no worker left');
  t.match(await dpkgStatus('mcr'), /^deinstall ok config-files /);
  const left = shipped.filter((p) => p !== '' && existsSync(p) && !statSync(p).isDirectory());
  t.same(left.sort(), ['/etc/logrotate.d/mcr', '/etc/mcr/mcrd.json5'], 'of the package\'s files only the conffiles are left');
  t.notOk(existsSync('/opt/mcr'), '/opt/mcr is gone');
  t.notOk(existsSync('/run/mcr'), '/run/mcr is gone');

  // --- purge: nothing left, user and group included ---
  const purged = Date.now();
  await must('apt-get', ['purge', ...APT, 'mcr'], 180_000);
  t.pass(`apt-get purge took ${Date.now() - purged} ms`);
  t.equal(await dpkgStatus('mcr').then((s) => s === undefined || s.startsWith('unknown') || s.startsWith('deinstall ok not-installed')), true, 'mcr purged');
  for (const p of ['/etc/mcr', '/etc/logrotate.d/mcr', '/var/log/mcr', '/run/mcr', '/opt/mcr']) t.notOk(existsSync(p), `${p} is gone`);
  t.notOk(await exists('passwd', 'mcr'), 'user mcr deleted');
  t.notOk(await exists('group', 'mcr'), 'group mcr deleted');

  // --- an account mcr the admin made before the package, with its own group ---
  madeMcr = true;
  await must('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'mcr']);
  const before = (await must('getent', ['passwd', 'mcr'])).trim();
  const again = await run('apt-get', ['install', ...APT, deb], 240_000);
  t.equal(again.code, 0, `installed beside the existing account: ${again.err}`);
  t.match(again.out + again.err, /mcr postinst: user mcr's primary group is mcr, the control socket's group: mcrd will refuse to start; run usermod -g nogroup mcr/,
    'the postinst says the account would give the workers the control socket');
  const sharedGroup = await run('mcrd', ['--config', '/etc/mcr/mcrd.json5', '--control-socket', join(scratch, 'own.sock'), '--socket-group', 'mcr', '--user', 'mcr'], 30_000);
  t.equal(sharedGroup.code, 2, 'mcrd refuses to start (exit 2: the unit does not restart it)');
  t.match(sharedGroup.err, /^mcrd: ERR_MCR_WORKER_GROUP: the workers' user mcr .* has the control socket's group mcr .*\(usermod -g nogroup mcr\)/m, 'saying why and what to do');
  await must('apt-get', ['purge', ...APT, 'mcr'], 180_000);
  t.equal((await run('getent', ['passwd', 'mcr'])).out.trim(), before, 'the purge leaves the admin\'s user mcr as it was');
  t.ok(await exists('group', 'mcr'), 'and its group');
  t.notOk(existsSync('/var/lib/mcr'), 'the purge\'s markers are gone');
});
