/**
 * Where MCR can be installed. Workers load their code with mcrd's own
 * credentials and switch to --user (nobody) only after that
 * (supervisor/fleet/worker-files.ts), so a built tree copied into a
 * `mktemp -d`-style 0700 directory, which nobody cannot enter, runs and
 * forwards. A tree mcrd's own credentials cannot fully read (here: root
 * without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, as a hardened unit runs it,
 * and one worker module owned by nobody with mode 600) stops mcrd at start
 * with one line: the code, the path, what to do; no worker restart loop.
 */
import t from 'tap';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { WorkerInfo } from '../../proto/index.js';
import { ROOT, runGen, sinkReport, startSink } from './harness.js';
import { mcrdLab, procStatus, uidOf, workersOf } from './mcrd-harness.js';

const RULE = `{ inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] }`;

/** The built tree as the package ships it: dist, package.json, the addon, the production dependencies (not the 150 MB of dev ones). */
function copyBuiltTree(to: string): void {
  cpSync(join(ROOT, 'dist'), join(to, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(to, 'package.json'));
  mkdirSync(join(to, 'build', 'Release'), { recursive: true });
  cpSync(join(ROOT, 'build', 'Release', 'mcr_native.node'), join(to, 'build', 'Release', 'mcr_native.node'));
  const pending = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
  const copied = new Set<string>();
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    const from = join(ROOT, 'node_modules', name);
    if (copied.has(name) || !existsSync(from)) continue;
    copied.add(name);
    cpSync(from, join(to, 'node_modules', name), { recursive: true });
    pending.push(...Object.keys((JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}));
  }
}

t.test('a tree in a 0700 directory runs and forwards; an unreadable worker module stops mcrd in one line', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'tree');
  const secret = mkdtempSync(join(tmpdir(), 'mcr-tree-'));
  t.teardown(() => rmSync(secret, { recursive: true, force: true }));
  t.equal(statSync(secret).mode & 0o777, 0o700, 'the directory is 0700, as mktemp -d makes it');
  copyBuiltTree(join(secret, 'mcr'));
  const mcrdJs = join(secret, 'mcr', 'dist', 'supervisor', 'mcrd.js');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, `{ rules: [ ${RULE} ] }\n`);

  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [mcrdJs, '--config', config, '--control-socket', socket, '--workers', '1', '--user', 'nobody']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  // A start takes seconds on a loaded 2-core machine.
  let worker: WorkerInfo | undefined;
  await pollUntil(async () => (worker = (await workersOf(socket))[0])?.state === 'running', 30_000, 200);
  t.equal(worker?.state, 'running', `the worker runs (${worker?.reason ?? ''})`);
  t.equal(procStatus(worker?.pid ?? 0, 'Uid').split(' ')[0], String(uidOf('nobody')), 'as nobody, who cannot enter the tree');
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'and forwards');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0);

  const module = join(secret, 'mcr', 'dist', 'worker', 'relay.js');
  chownSync(module, uidOf('nobody'), statSync(module).gid);
  chmodSync(module, 0o600);
  const r = await execa('ip', ['netns', 'exec', rl.relay.ns, 'setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search',
    process.execPath, mcrdJs, '--config', config, '--control-socket', socket, '--workers', '1'], { reject: false, timeout: 30_000 });
  t.equal(r.exitCode, 1, 'mcrd stops');
  t.equal(r.stdout, '', 'before it logs anything or starts a worker');
  t.equal(r.stderr.split('\n').length, 1, 'with one line');
  t.match(r.stderr, new RegExp(`^mcrd: EACCES: a worker could not load ${module.replace(/[.]/g, '\\.')}: .*install MCR under a path mcrd can read, such as /opt/mcr`),
    'naming the code, the path and what to do');
});
