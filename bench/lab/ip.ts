/**
 * Runs iproute2's `ip` for the lab, always with a time limit.
 *
 * The async form serves normal lab building and teardown; the sync form only
 * serves the process 'exit' and signal hooks, where nothing asynchronous
 * runs any more. Callers pass `-n <ns>` themselves: this file does not know
 * which namespace is whose, the Lab does.
 */

import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { LabError } from './errors.js';

export const IP_TIMEOUT_MS = 10_000;

/** Runs `ip ...args`; resolves with stdout, rejects with ERR_LAB_IP / ETIMEDOUT. */
export async function ip(args: readonly string[], timeoutMs = IP_TIMEOUT_MS): Promise<string> {
  const result = await execa('ip', args, {
    reject: false,
    timeout: timeoutMs,
    input: '',
    forceKillAfterDelay: 1000,
  });
  const command = `ip ${args.join(' ')}`;
  if (result.timedOut) {
    throw new LabError('ETIMEDOUT', `${command}: no answer within ${timeoutMs} ms`, { command });
  }
  if (result.failed) {
    const stderr = result.stderr.trim();
    throw new LabError('ERR_LAB_IP', `${command} failed: ${stderr || result.shortMessage}`, {
      command,
      stderr,
    });
  }
  return result.stdout;
}

/** Synchronous `ip`, for exit hooks only. Returns stderr ('' on success). */
export function ipSync(args: readonly string[], timeoutMs = 5000): { ok: boolean; stderr: string } {
  const r = spawnSync('ip', args, { timeout: timeoutMs, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  return { ok: r.status === 0, stderr: r.stderr ?? String(r.error ?? '') };
}

/** True when `ip` said the object was already gone (teardown treats that as done). */
export function isNoSuch(stderr: string): boolean {
  return /no such|cannot find|does not exist|not found/i.test(stderr);
}
