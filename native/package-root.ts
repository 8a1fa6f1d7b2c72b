/**
 * Where the installed package is: the nearest ancestor of this module that
 * holds package.json. Compiled, this file is dist/native/ (run from
 * source it would be native/); both resolve to the same root. The one place
 * that answers the question: the addon door, the native tools' paths, the
 * benchmark and the tests all ask here.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      cached = dir;
      return dir;
    }
    if (dirname(dir) === dir) {
      const err = new Error(`ENOENT: no package.json in ${start} or any parent directory: mcr is not installed as a package; reinstall it (npm ci)`) as NodeJS.ErrnoException;
      err.code = 'ENOENT';
      throw err;
    }
  }
}
