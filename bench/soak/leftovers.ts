/**
 * After the teardown: is anything of the soak left? Its namespaces (and
 * with them its veths), its processes (mcrd, every worker PID it saw, the
 * generators and sinks), the control socket file and the scratch
 * directory. Waits a bounded moment for processes that are already dying
 * (workers end within a second of their mcrd).
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface LeftoverInput {
  namespaces: readonly string[];
  pids: readonly number[];
  paths: readonly string[];
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function findLeftovers(o: LeftoverInput, waitMs = 3000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let pids = o.pids.filter(alive);
  while (pids.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    pids = pids.filter(alive);
  }
  const out: string[] = pids.map((p) => `process ${p} still running`);
  let netns = '';
  try {
    netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  } catch (err) {
    out.push(`could not list namespaces: ${(err as Error).message}`);
  }
  const listed = new Set(netns.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n) => n !== undefined && n !== ''));
  for (const ns of o.namespaces) if (listed.has(ns)) out.push(`namespace ${ns} still exists`);
  for (const p of o.paths) if (existsSync(p)) out.push(`${p} still exists`);
  return out;
}
