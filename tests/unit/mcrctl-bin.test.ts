/**
 * The built `mcrctl` bin as users run it (node dist/tools/mcrctl.js, through
 * execa): exit statuses and single stderr lines come through the real
 * process, and SIGINT ends `logs --follow` with status 0. Waits are on the
 * child's output and exit, each bounded by execa's timeout.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../supervisor/control/server.js';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import { packageRoot } from '../../native/package-root.js';
import { makeStaleSocket } from './control-fixture.js';

const BIN = join(packageRoot(), 'dist', 'tools', 'mcrctl.js');
const run = (args: string[]) => execa(process.execPath, [BIN, ...args], { reject: false, timeout: 20_000 });

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcrctl-bin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the bin starts with a node shebang', async (t) => {
  t.match(await readFile(BIN, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

t.test('no daemon: exit 1 with one line', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  const r = await run(['--socket', path, 'ping']);
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `mcrctl: ENOENT: mcrd is not running (no socket at ${path}): start it (\`systemctl start mcrd\` where the package is installed, else \`mcrd --config FILE\`), or pass --socket`);
});

t.test('a stale socket file: exit 1 with one line saying nobody listens on it', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  await makeStaleSocket(path);
  const r = await run(['--socket', path, 'ping']);
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `mcrctl: ECONNREFUSED: ${path} is a stale socket file: nobody is listening on it, so mcrd is not running; `
    + 'start it (`systemctl start mcrd` where the package is installed, else `mcrd --config FILE`; it replaces the file), or remove the file, or pass --socket');
});

t.test('a usage error: exit 2 with one line', async (t) => {
  const r = await run(['remove']);
  t.equal(r.exitCode, 2);
  t.equal(r.stderr, 'mcrctl: ERR_MCR_USAGE: remove needs exactly one of --id and --name (see mcrctl --help)');
});

t.test('SIGINT ends logs --follow with status 0', async (t) => {
  const path = join(await tempDir(t), 'mcrd.sock');
  const logs: ControlHandler['logs'] = async (_request, context) => (async function* () {
    yield { lines: [{ worker: 'eth0/0', timeMs: Date.UTC(2024, 0, 1), level: 'info', message: 'hello', json: '{}' }] };
    // Then nothing until mcrctl goes away and the server aborts the request.
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
  })();
  const unused = async (): Promise<never> => {
    throw Object.assign(new Error('not used by this test'), { code: 'ERR_MCR_UNSUPPORTED' });
  };
  const handler = {
    addRule: unused, removeRule: unused, listRules: unused, stats: unused, workers: unused, logs, logLevelGet: unused,
    logLevelSet: unused, reload: unused, save: unused, check: unused, ping: unused, version: unused, clear: unused, events: unused,
  } satisfies ControlHandler;
  const server = new ControlServer({ path, handler });
  await server.listen();
  t.teardown(() => server.close());

  const child = execa(process.execPath, [BIN, '--socket', path, 'logs', '--follow'], { reject: false, timeout: 20_000 });
  await new Promise<void>((resolve) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('hello')) resolve();
    });
  });
  child.kill('SIGINT');
  const r = await child;
  t.equal(r.exitCode, 0);
  t.equal(r.stderr, '');
  t.match(r.stdout, /^2024-01-01T00:00:00\.000Z eth0\/0\s+INFO\s+hello$/);
});
