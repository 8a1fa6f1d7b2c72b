/**
 * One mcrd per network namespace (supervisor/control/namespace-guard.ts),
 * on a real abstract Unix socket under a name of the test's own: the first
 * claim holds it; a second is refused with EADDRINUSE naming the holder's
 * pid and control socket; a holder that is not an mcrd (another user's
 * process, one that never answers, a socket bound without listening) does
 * not keep mcrd from starting, only gets a warning; a client that connects
 * and never reads holds neither a descriptor nor the close; the name is
 * free again after close().
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ControlError } from '../../common/control-errors.js';
import { NamespaceGuard } from '../../supervisor/control/namespace-guard.js';

const name = `\0mcr-test-guard-${process.pid}-${Date.now()}`;

t.test('a second claim is refused, naming the holder; free again after close', async (t) => {
  const first = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/first.sock', onSquatter: () => t.fail('no squatter') });
  t.teardown(() => first.close());
  const err = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/second.sock', onSquatter: () => t.fail('not a squatter: the same user') })
    .then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ControlError, 'refused');
  t.equal((err as ControlError).code, 'EADDRINUSE');
  t.match((err as ControlError).message, new RegExp(`another mcrd \\(pid ${process.pid}, control socket /run/mcr/first\\.sock\\) runs in this network namespace: one mcrd per network namespace`));
  t.match((err as ControlError).message, /give that mcrd these rules .* or stop it first/);
  await first.close();
  const again = await NamespaceGuard.claim({ name, controlSocket: '/run/mcr/second.sock', onSquatter: () => t.fail('no squatter') });
  t.pass('claimed once the first let go');
  await again.close();
});

t.test('a holder of another user is a squatter: mcrd starts without the guard, told who', async (t) => {
  const first = await NamespaceGuard.claim({ name: `${name}-sq`, controlSocket: '/x.sock', onSquatter: () => undefined });
  t.teardown(() => first.close());
  const told: number[] = [];
  const uid = (process.getuid?.() ?? 0) + 4242;
  const guard = await NamespaceGuard.claim({ name: `${name}-sq`, controlSocket: '/y.sock', onSquatter: (h) => told.push(h?.uid ?? -1),
    peerLookup: () => ({ pid: 1, uid, gid: uid }) });
  t.same(told, [uid], 'the squatter\'s uid reported');
  await guard.close();
});

t.test('a holder that never answers, and a socket bound without listening, are squatters', async (t) => {
  const silentName = `${name}-silent`;
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(silentName, () => r()));
  t.teardown(() => new Promise<void>((r) => silent.close(() => r())));
  const why: string[] = [];
  const g1 = await NamespaceGuard.claim({ name: silentName, controlSocket: '/a.sock', onSquatter: (_h, w) => why.push(w) });
  await g1.close();
  t.match(why[0] ?? '', /^is held by pid \d+ \(uid \d+\), which does not answer as mcrd does$/, 'a silent holder of the same user');
  // A stream socket bound to the name but not listening: the name is taken, a connect is refused.
  // (Node binds an abstract name NUL-padded to the whole sun_path, 108 bytes: the squatter takes that very name.)
  const boundName = `${name}-bound`;
  const py = spawn('python3', ['-c', `import socket, time, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\ns.bind((b'\\0' + sys.argv[1].encode()).ljust(108, b'\\0'))\nprint('bound', flush=True)\ntime.sleep(30)`,
    boundName.slice(1)], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => { if (py.exitCode === null) py.kill('SIGKILL'); });
  const bound = await new Promise<boolean>((resolve) => {
    py.once('error', () => resolve(false));
    py.stdout.once('data', () => resolve(true));
    setTimeout(() => resolve(false), 5000).unref();
  });
  // python3 is installed by .ci/run (the notify test's listener too): not binding is a failure, not a skip.
  t.ok(bound, 'python3 bound the name without listening');
  const g2 = await NamespaceGuard.claim({ name: boundName, controlSocket: '/b.sock', onSquatter: (_h, w) => why.push(w) });
  await g2.close();
  t.equal(why[1], 'is held by a socket that takes no connection', 'started anyway, told why');
});

t.test('a client that connects and never reads holds neither a descriptor nor the close', async (t) => {
  const guardName = `${name}-idle`;
  const guard = await NamespaceGuard.claim({ name: guardName, controlSocket: '/c.sock', onSquatter: () => t.fail('no squatter') });
  const clients = Array.from({ length: 3 }, () => createConnection({ path: guardName }));
  for (const c of clients) c.on('error', () => undefined);
  t.teardown(() => { for (const c of clients) c.destroy(); });
  await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
  const started = performance.now();
  await guard.close();
  t.ok(performance.now() - started < 1000, 'close() does not wait for them');
});

t.test('a name the host will not give is no reason to refuse a start', async (t) => {
  const why: string[] = [];
  // A path in a directory that does not exist stands in for a name a sandbox refuses.
  const guard = await NamespaceGuard.claim({ name: '/nonexistent-mcr-dir/guard', controlSocket: '/d.sock', onSquatter: (_h, w) => why.push(w) });
  await guard.close();
  t.match(why[0] ?? '', /^cannot be taken \(E[A-Z]+: /, 'skipped with the errno code');
});
