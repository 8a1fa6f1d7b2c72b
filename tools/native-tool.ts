// Finds and runs the native traffic tools (mcrgen, mcrsink, mcrinject) that
// node-gyp builds into <package root>/build/Release. The npm bins and the
// tests go through here so the location rule lives in one place.
//
// The package root is found by walking up from this file to the first
// directory holding package.json: compiled, this file is dist/tools/, and run
// from source (e.g. by a TS loader) it is tools/; both resolve the same root.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeToolName = 'mcrgen' | 'mcrsink' | 'mcrinject';

function errnoError(
  code: string,
  syscall: string,
  path: string,
  message: string,
): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** The nearest ancestor directory of this module that contains package.json. */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      const message = `no package.json in ${start} or any parent directory`;
      throw errnoError('ENOENT', 'stat', start, message);
    }
    dir = parent;
  }
}

/** Absolute path of a native tool binary; it exists only after the native build. */
export function nativeToolPath(name: NativeToolName): string {
  return join(packageRoot(), 'build', 'Release', name);
}

/**
 * Runs a native tool with inherited stdio and exits this process with the
 * tool's status (128 + signal number if a signal ended it). SIGINT and
 * SIGTERM are forwarded to the child by PID, so `kill <node pid>` stops the
 * tool cleanly and its JSON summary still reaches stdout.
 */
export function execNativeTool(name: NativeToolName, argv: readonly string[]): void {
  const path = nativeToolPath(name);
  const child = spawn(path, argv, { stdio: 'inherit' });

  const forward = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(child.pid, signal);
    } catch {
      // ESRCH: the child exited between the check and the kill; its 'exit'
      // handler reports the status.
    }
  };
  // Listening also stops Node's default action (exit at once), so this
  // process lives until the child has printed its summary and exited.
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);

  child.on('error', (err: NodeJS.ErrnoException) => {
    const code = err.code ?? 'EIO';
    const detail = code === 'ENOENT' ? 'not built — run `npm run build`' : err.message;
    process.stderr.write(`${name}: ${code}: spawn ${path}: ${detail}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    process.exit(128 + (signal !== null ? osConstants.signals[signal] : 0));
  });
}
