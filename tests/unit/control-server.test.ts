/**
 * The control socket's life cycle: directory and socket modes, replacing a
 * stale socket file but never a live one or a non-socket, removing the file
 * on close, and what ControlClient says when mcrd is not running. Every
 * socket lives in a fresh directory under os.tmpdir(), removed afterwards.
 */
import t from 'tap';
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../common/control-client.js';
import { ControlServer, type ControlServerOptions } from '../../supervisor/control/server.js';
import { listenOn } from '../../supervisor/control/socket-listen.js';
import { connectClient, makeStaleSocket, stubHandler, type Cleanup } from './control-fixture.js';

const NOT_RUNNING = (path: string): string => `mcrd is not running (no socket at ${path}): start it (\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`), or pass --socket`;
const STALE = (path: string): string =>
  `${path} is a stale socket file: nobody is listening on it, so mcrd is not running; start it (\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`; it replaces the file), or remove the file, or pass --socket`;

async function tempDir(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcr-ctl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const handler = stubHandler;

async function startServer(t: Cleanup, path: string, options: Partial<ControlServerOptions> = {}): Promise<ControlServer> {
  const server = new ControlServer({ path, handler: handler(), ...options });
  await server.listen();
  t.teardown(() => server.close());
  return server;
}

const connect = connectClient;

t.test('creates the directory 0755 and the socket 0660', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'run', 'mcr', 'mcrd.sock');
  await startServer(t, path);
  const sock = await lstat(path);
  t.ok(sock.isSocket(), 'a socket');
  t.equal(sock.mode & 0o777, 0o660, 'socket mode 0660');
  t.equal((await stat(join(dir, 'run', 'mcr'))).mode & 0o777, 0o755, 'created dir 0755');
  t.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o755, 'created parent 0755');
  const client = await connect(t, path);
  t.equal((await client.request({ kind: 'ping' })).pid, process.pid);
});

t.test('under umask 000 the socket is never more open than 0660, not even before its chmod', async (t) => {
  // A client connecting between bind() and the chmod would keep its
  // connection, so the mode the bind creates the file with matters:
  // listenOn (the server's bind) never chmods, so its file is that mode.
  const previous = process.umask(0);
  t.teardown(() => void process.umask(previous));
  const dir = await tempDir(t);
  const bound = createServer();
  await listenOn(bound, join(dir, 'bound.sock'), 0o660);
  t.teardown(() => new Promise<void>((resolve) => bound.close(() => resolve())));
  t.equal(((await lstat(join(dir, 'bound.sock'))).mode & 0o777).toString(8), '660', 'created 0660 by the bind itself');
  t.equal(process.umask(), 0, 'and the umask is restored');
  const wide = createServer();
  await listenOn(wide, join(dir, 'wide.sock'), 0o666);
  t.teardown(() => new Promise<void>((resolve) => wide.close(() => resolve())));
  t.equal(((await lstat(join(dir, 'wide.sock'))).mode & 0o777).toString(8), '666', 'the mode asked for, not a fixed one');
  // The server itself, under the same umask: its socket ends 0660.
  const path = join(dir, 'mcrd.sock');
  await startServer(t, path);
  t.equal(process.umask(), 0, 'the server restores the umask too');
  t.equal((await lstat(path)).mode & 0o777, 0o660);
});

t.test('a stale socket file is replaced', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await makeStaleSocket(path);
  t.ok((await lstat(path)).isSocket(), 'stale socket present');
  const probe = new ControlClient();
  await t.rejects(probe.connect(path), { code: 'ECONNREFUSED', message: STALE(path) }, 'nobody answers on it: the client says the file is stale');
  await startServer(t, path);
  const client = await connect(t, path);
  t.equal((await client.request({ kind: 'version' })).version, '0.1.0');
  t.equal((await lstat(path)).mode & 0o777, 0o660);
});

t.test('a live socket is left alone and the second server refuses with EADDRINUSE', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await startServer(t, path);
  const second = new ControlServer({ path, handler: handler() });
  await t.rejects(second.listen(), {
    code: 'EADDRINUSE',
    message: `another mcrd is starting or running on ${path} (it holds ${path}.lock): stop it first, or start this one with another --control-socket`,
  });
  await second.close();
  t.ok(existsSync(path), 'the first server keeps its socket file');
  const client = await connect(t, path);
  t.equal((await client.request({ kind: 'ping' })).pid, process.pid, 'and keeps answering');
});

t.test('two servers started at once over a stale socket: one listens, the other refuses, and the socket file is the one listening', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await makeStaleSocket(path);
  const servers = [0, 1].map((n) => new ControlServer({ path, handler: handler({ ping: async () => ({ pid: n, uptimeMs: 1 }) }) }));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const results = await Promise.allSettled(servers.map((s) => s.listen()));
  const up = results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : []));
  t.equal(up.length, 1, 'exactly one listens (before the lock, both did: the second removed the first\'s new socket)');
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  t.match(refused?.reason, { code: 'EADDRINUSE', message: /another mcrd is starting or running on .*mcrd\.sock \(it holds .*mcrd\.sock\.lock\)/ });
  const client = await connect(t, path);
  t.equal((await client.request({ kind: 'ping' })).pid, up[0], 'the socket file reaches the one that listens');
});

t.test('while another process holds the lock, a start touches nothing: the stale socket stays, EADDRINUSE', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await makeStaleSocket(path);
  // util-linux's flock(1) (Essential in Debian) as the other mcrd between its lock and its listen.
  // The shell takes the lock on fd 9 and becomes `sleep` (exec: same pid, fd 9 kept), so killing that one pid frees it.
  const holder = spawn('sh', ['-c', 'exec 9>"$0" && flock --nonblock 9 && echo locked && exec sleep 30', `${path}.lock`], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => {
    if (holder.exitCode === null && holder.pid !== undefined) holder.kill('SIGKILL');
  });
  const held = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    holder.once('error', () => resolve(false));
    holder.stdout.once('data', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  t.ok(held, 'flock(1) holds the lock file');
  const server = new ControlServer({ path, handler: handler() });
  await t.rejects(server.listen(), { code: 'EADDRINUSE', message: /another mcrd is starting or running on/ });
  t.ok((await lstat(path)).isSocket(), 'the stale socket is still there: only the lock holder may replace it');
  await server.close();
});

t.test('the lock file goes with a clean close; one left by a crash (no holder) does not stop a start', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await writeFile(`${path}.lock`, '');
  const server = await startServer(t, path);
  t.ok(existsSync(`${path}.lock`), 'held while listening');
  await server.close();
  t.notOk(existsSync(`${path}.lock`), 'removed at close');
  const again = await startServer(t, path);
  t.ok(again.listening, 'the next start takes it');
});

t.test('a path that is not a socket is never deleted', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await writeFile(path, 'precious');
  const server = new ControlServer({ path, handler: handler() });
  await t.rejects(server.listen(), { code: 'ENOTSOCK', message: /exists and is not a socket: move it away or pass another --control-socket/ });
  t.equal(await readFile(path, 'utf8'), 'precious');
});

t.test('close stops listening, ends clients and removes the socket file', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  let aborted!: () => void;
  const handlerAborted = new Promise<void>((resolve) => (aborted = resolve));
  const server = await startServer(t, path, {
    handler: handler({
      stats: (_request, context) =>
        new Promise(() => context.signal.addEventListener('abort', () => aborted(), { once: true })),
    }),
  });
  const client = await connect(t, path);
  t.equal((await client.request({ kind: 'ping' })).pid, process.pid);
  const pending = client.request({ kind: 'stats' });
  // The ping after stats is answered only once stats reached the server.
  await client.request({ kind: 'ping' });
  t.equal(server.clientCount, 1);
  const disconnected = t.rejects(pending, { code: 'ERR_MCR_DISCONNECTED', message: /mcrd closed the control connection/ });
  await server.close();
  t.notOk(existsSync(path), 'socket file removed');
  t.notOk(server.listening);
  await disconnected;
  await handlerAborted;
  t.pass('the pending handler was aborted');
  await server.close();
  t.pass('close twice is fine');
  await t.rejects(server.listen(), { code: 'ERR_MCR_BAD_STATE' });
  await t.rejects(new ControlClient().connect(path), { code: 'ENOENT', message: NOT_RUNNING(path) });
});

t.test('the client says mcrd is not running when there is no socket', async (t) => {
  const path = join(await tempDir(t), 'nothing-here.sock');
  const client = new ControlClient();
  await t.rejects(client.connect(path), { code: 'ENOENT', message: NOT_RUNNING(path) });
  const unconnected = new ControlClient();
  await t.rejects(unconnected.request({ kind: 'ping' }), { code: 'ERR_MCR_NOT_CONNECTED' });
});
