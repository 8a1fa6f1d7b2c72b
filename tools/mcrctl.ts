#!/usr/bin/env node
/**
 * The `mcrctl` bin: runs the command line (tools/mcrctl/commands.ts) against
 * this process's stdio and arguments. SIGINT and SIGTERM end
 * `logs --follow` cleanly (status 0); a closed stdout pipe
 * (`mcrctl logs --follow | head`) ends it the same way instead of a crash.
 */
import { runMcrctl } from './mcrctl/commands.js';

const stop = new AbortController();
const interrupt = (): void => stop.abort();
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);
// EPIPE (the reader is gone) or any other stdout failure: nobody is left to
// print for, so stop, and write nothing more to the broken stream.
let stdoutBroken = false;
process.stdout.on('error', () => {
  stdoutBroken = true;
  stop.abort();
});

const status = await runMcrctl(process.argv.slice(2), {
  stdout: (text) => {
    if (!stdoutBroken) process.stdout.write(text);
  },
  stderr: (text) => void process.stderr.write(text),
  signal: stop.signal,
  // `mcrctl top` takes the screen only when it has one to take and keys to read.
  ...(process.stdin.isTTY && process.stdout.isTTY ? { terminal: { stdin: process.stdin, stdout: process.stdout } } : {}),
});
// exitCode rather than exit(): lets stdout drain when piped.
process.exitCode = status;
process.off('SIGINT', interrupt);
process.off('SIGTERM', interrupt);
