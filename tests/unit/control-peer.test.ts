/**
 * The control socket's group and its audit log: the socket file handed to
 * socketGroup (mode 0660 kept), each mutating request logged with the
 * caller's uid from SO_PEERCRED (through the real addon, and from another
 * uid when the test runs as root), read-only requests not logged, and a
 * client whose credentials cannot be read still served. Sockets live in
 * fresh temp directories, removed afterwards.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { encodeRequest } from '../../proto/control.js';
import { encodeFrame } from '../../proto/framing.js';
import { native } from '../../native/index.js';
import { MUTATING_REQUESTS } from '../../common/mutating-requests.js';
import type { ControlLogger } from '../../supervisor/control/handler.js';
import { startControlServer, stubHandler } from './control-fixture.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

interface Line { obj: Record<string, unknown>; msg: string }

function recordingLogger(): { log: ControlLogger; lines: Line[] } {
  const lines: Line[] = [];
  const keep = (obj: object, msg: string): void => void lines.push({ obj: obj as Record<string, unknown>, msg });
  return { log: { debug: keep, info: keep, warn: keep, error: keep }, lines };
}

const audit = (lines: Line[]): Line[] => lines.filter((l) => l.msg.startsWith('control request '));

t.test('mutating requests are logged with the caller\'s uid, gid and pid from SO_PEERCRED', async (t) => {
  const { log, lines } = recordingLogger();
  const { client } = await startControlServer(t, stubHandler(), { log });
  const c = await client();
  await c.request({ kind: 'ping' });
  await c.request({ kind: 'listRules' });
  t.same(audit(lines), [], 'read-only requests are not audited');
  await c.request({ kind: 'logLevelSet', level: 'debug' });
  await c.request({ kind: 'removeRule', id: 1 });
  const got = audit(lines);
  t.equal(got.length, 2);
  t.match(got[0], { obj: { request: 'logLevelSet', uid: process.getuid?.(), gid: process.getgid?.(), pid: process.pid }, msg: `control request logLevelSet from uid ${process.getuid?.()}` });
  t.match(got[1], { obj: { request: 'removeRule', uid: process.getuid?.() } });
  t.same(MUTATING_REQUESTS, ['addRule', 'removeRule', 'reload', 'save', 'logLevelSet', 'clear']);
});

t.test('a client whose credentials cannot be read is served and logged as unknown', async (t) => {
  const { log, lines } = recordingLogger();
  const failing = (): never => {
    throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
  };
  const { client } = await startControlServer(t, stubHandler(), { log, peerLookup: failing });
  const c = await client();
  const result = await c.request({ kind: 'save', file: '/nonexistent/x.json5' });
  t.equal(result.file, '/nonexistent/x.json5');
  t.match(audit(lines), [{ obj: { request: 'save', peerError: 'EBADF' }, msg: 'control request save from an unknown uid (EBADF)' }]);
});

t.test('socketGroup hands the socket file to the group, mode 0660', { skip: isRoot ? false : 'chown to another group needs root (CAP_CHOWN)' }, async (t) => {
  const nogroup = native.lookupGroup('nogroup');
  const { path } = await startControlServer(t, stubHandler(), { socketGroup: nogroup });
  const st = await stat(path);
  t.equal(st.gid, nogroup);
  t.equal(st.mode & 0o777, 0o660);
});

t.test('another uid is logged as itself (SO_PEERCRED records the connecting process)', { skip: isRoot ? false : 'switching to nobody needs root' }, async (t) => {
  const { log, lines } = recordingLogger();
  const nobody = native.lookupUser('nobody');
  const { path } = await startControlServer(t, stubHandler(), { log, socketMode: 0o666 });
  // nobody must reach the socket: its temp directory is 0700 by mkdtemp.
  await chmod(dirname(path), 0o755);
  // The client is plain node:net with the request frame made here, so
  // nobody needs to read nothing of this tree (a clone under /root is fine).
  const frame = encodeFrame(encodeRequest({ id: 1, body: { kind: 'logLevelSet', level: 'warn' } })).toString('hex');
  const client = `const s = require('node:net').connect(${JSON.stringify(path)}, () => s.write(Buffer.from('${frame}', 'hex')));` +
    's.once("data", () => s.end()); s.on("error", (e) => { console.error(e.message); process.exit(1); });';
  await run('setpriv', ['--reuid', String(nobody.uid), '--regid', String(nobody.gid), '--clear-groups', process.execPath, '-e', client], { timeout: 20_000 });
  t.match(audit(lines), [{ obj: { request: 'logLevelSet', uid: nobody.uid, gid: nobody.gid } }]);
});

t.test('lookupGroup says ENOENT for a group that does not exist', async (t) => {
  t.throws(() => native.lookupGroup('mcr-no-such-group'), { code: 'ENOENT' });
  t.equal(native.lookupGroup('root'), 0);
});
