/**
 * A private copy of what the soak runs (dist/, the addon, mcrgen, mcrsink,
 * package.json; node_modules linked), taken once at the start. Others
 * rebuild dist/ and build/ in the shared tree while a 30-minute soak runs;
 * a worker restarted in the middle would otherwise load half-written
 * modules and the soak would blame mcrd for it. mcrd finds its worker entry
 * and the addon relative to its own files, so run from the copy it uses
 * only the copy. The copy lives in the soak's scratch directory and goes
 * with it.
 */
import { chmodSync, copyFileSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../tools/native-tool.js';

export interface Snapshot {
  root: string;
  mcrd: string;
  mcrctl: string;
  mcrgen: string;
  mcrsink: string;
}

export function takeSnapshot(dir: string): Snapshot {
  const src = packageRoot();
  const root = join(dir, 'pkg');
  mkdirSync(join(root, 'build', 'Release'), { recursive: true });
  cpSync(join(src, 'dist'), join(root, 'dist'), { recursive: true });
  copyFileSync(join(src, 'package.json'), join(root, 'package.json'));
  for (const f of ['mcr_native.node', 'mcrgen', 'mcrsink']) copyFileSync(join(src, 'build', 'Release', f), join(root, 'build', 'Release', f));
  symlinkSync(join(src, 'node_modules'), join(root, 'node_modules'));
  // mkdtemp made the scratch directory 0700; workers run as an unprivileged user.
  chmodSync(dir, 0o755);
  return {
    root,
    mcrd: join(root, 'dist', 'supervisor', 'mcrd.js'),
    mcrctl: join(root, 'dist', 'tools', 'mcrctl.js'),
    mcrgen: join(root, 'build', 'Release', 'mcrgen'),
    mcrsink: join(root, 'build', 'Release', 'mcrsink'),
  };
}
