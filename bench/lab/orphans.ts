/**
 * Removes namespaces that labs of dead processes left behind.
 *
 * The exit and signal hooks (registry.ts) tear a lab down however its
 * process ends, except by SIGKILL (a runner's hard timeout, `kill -9`, the
 * OOM killer): then nothing of the process runs and its namespaces stay.
 * Their names say whose they were (`mcr-<pid>-<rand4>-...`, names.ts), so
 * the first lab a process creates removes every lab namespace whose owner
 * PID no longer exists. A namespace whose owner is alive, or whose PID was
 * reused by another process, is left alone. Processes still inside an
 * orphan (children of the dead owner) are reported, never signalled: we end
 * only processes we started; the name goes, as Lab.destroy() does it.
 */

import { existsSync } from 'node:fs';
import { ip, isNoSuch } from './ip.js';
import { LabError } from './errors.js';
import { raceTimeout } from './time.js';

const LAB_NAMESPACE_RE = /^mcr-(\d+)-[0-9a-f]{4}-/;

/** The owner PID of a lab namespace name, or undefined for any other name. */
export function labNamespaceOwner(name: string): number | undefined {
  const m = LAB_NAMESPACE_RE.exec(name);
  const pid = m?.[1] === undefined ? NaN : Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Lab namespaces among `ip netns list` lines whose owner is not a running process. */
export function orphanNamespaces(netnsList: string, pidExists: (pid: number) => boolean): string[] {
  return netnsList
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => {
      const owner = labNamespaceOwner(name);
      return owner !== undefined && owner !== process.pid && !pidExists(owner);
    });
}

/** Deletes the orphans; returns their names. Never throws: a sweep failure must not fail a lab. */
export async function removeOrphanNamespaces(warn: (message: string) => void): Promise<string[]> {
  let list: string;
  try {
    list = await ip(['netns', 'list']);
  } catch (err) {
    warn(`listing namespaces for orphans of dead labs: ${String(err)}`);
    return [];
  }
  const removed: string[] = [];
  for (const name of orphanNamespaces(list, (pid) => existsSync(`/proc/${pid}`))) {
    const pids = await raceTimeout(ip(['netns', 'pids', name]), 5000).catch(() => undefined);
    const inside = pids?.done ? pids.value.trim().split(/\s+/).filter((p) => p !== '') : [];
    try {
      await ip(['netns', 'del', name]);
      removed.push(name);
      warn(`removed namespace ${name}, left by a lab whose process is gone (killed with SIGKILL?)` +
        (inside.length > 0 ? `; processes still inside, not ours to end: ${inside.join(' ')}` : ''));
    } catch (err) {
      if (!(err instanceof LabError && isNoSuch(err.stderr ?? ''))) warn(`ip netns del ${name}: ${String(err)}`);
    }
  }
  return removed;
}
