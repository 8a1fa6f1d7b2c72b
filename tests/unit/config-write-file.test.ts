/**
 * `mcrctl save` writes its file atomically and keeps an existing file's
 * owner where the process may; where it may not (the packaged unit: mcrd
 * as root with group mcr and no CAP_CHOWN, the package's root:root config)
 * the save still succeeds, as mcrd's own user and group, and says the
 * owner changed, instead of failing with EPERM. The second case runs a
 * child the way the unit runs mcrd: setpriv to another group, no
 * supplementary groups, CAP_CHOWN out of the bounding set.
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';
import { writeConfigFile } from '../../supervisor/config/write-file.js';

const WRITER = join(ROOT, 'dist', 'supervisor', 'config', 'write-file.js');
const NOGROUP = 65534;

t.test('an existing file keeps its mode and owner, a new one is 0644', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fresh = join(dir, 'new.json5');
  t.same(writeConfigFile(fresh, 'a'), {});
  t.equal(statSync(fresh).mode & 0o777, 0o644, 'a new file is 0644');
  const old = join(dir, 'old.json5');
  writeFileSync(old, 'x', { mode: 0o640 });
  t.same(writeConfigFile(old, 'b'), {}, 'nothing to tell');
  t.equal(readFileSync(old, 'utf8'), 'b');
  t.equal(statSync(old).mode & 0o777, 0o640, 'its mode kept');
});

t.test('without CAP_CHOWN a root:root file is saved as the process\'s own group, and the caller is told', { skip: process.getuid?.() === 0 ? false : 'needs root (setpriv to another group)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'mcrd.json5');
  writeFileSync(file, 'old', { mode: 0o644 });
  t.equal(statSync(file).gid, 0, 'root:root, as the package installs it');
  const r = await execa('setpriv', ['--regid', String(NOGROUP), '--clear-groups', '--bounding-set', '-chown', '--inh-caps', '-chown',
    process.execPath, '--input-type=module', '-e',
    `import { writeConfigFile } from '${WRITER}'; console.log(JSON.stringify(writeConfigFile(${JSON.stringify(file)}, 'new')));`],
  { reject: false, timeout: 20_000 });
  t.equal(r.exitCode, 0, `the save succeeds (${r.stderr.split('\n').find((l) => /Error|EPERM/.test(l)) ?? ''})`);
  t.same(JSON.parse(r.stdout || '{}'), { ownerChanged: { uid: 0, gid: 0 } }, 'and says the owner it could not keep');
  t.equal(readFileSync(file, 'utf8'), 'new', 'the new text is in place');
  t.equal(statSync(file).gid, NOGROUP, 'now in the process\'s own group');
  t.equal(statSync(file).mode & 0o777, 0o644, 'its mode kept');
});
