/**
 * What the demo needs before it touches anything: root (it creates network
 * namespaces), a kernel and iproute2 that allow them, and the build products
 * it runs (the addon, the native traffic tools, the compiled TypeScript).
 * Each missing piece is one DemoError saying what to do.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { labUnavailableReason } from '../lab/index.js';
import { DemoError } from './errors.js';

/** Files the demo runs, relative to the package root. */
export const BUILT_FILES = [
  'build/Release/mcr_native.node',
  'build/Release/mcrgen',
  'build/Release/mcrsink',
  'dist/supervisor/mcrd.js',
  'dist/worker/fleet-worker.js',
  'dist/tools/mcrctl.js',
] as const;

export function checkRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) {
    throw new DemoError('EPERM', 'the demo creates network namespaces and needs root: run it as root (sudo npm run demo)');
  }
  const reason = labUnavailableReason();
  if (reason !== undefined) {
    throw new DemoError('ERR_MCR_DEMO_LAB', `cannot create network namespaces here (${reason}): run it as root on a host or VM that allows them`);
  }
}

export function checkBuilt(root: string): void {
  const missing = BUILT_FILES.filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    const where = missing.map((f) => relative(process.cwd(), join(root, f)) || f).join(', ');
    throw new DemoError('ENOENT', `not built: ${where} missing: run \`npm ci\` (or \`npm run build\`) in ${root} first`);
  }
}
