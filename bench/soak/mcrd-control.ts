/**
 * What the soak asks of the running mcrd besides counters: its worker
 * slots, waiting (bounded) until the workers of an interface run again and
 * hold the current rule table, running the built `mcrctl` bin as a user
 * would, and making sure a PID is one of mcrd's workers before the soak
 * signals it (a worker's PID may be reused once it is gone).
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import type { WorkerInfo } from '../../proto/index.js';
import { ControlLink } from './control-link.js';

export interface McrctlRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  ms: number;
}

export class McrdControl {
  readonly #client: ControlLink;

  constructor(readonly socket: string, readonly mcrdPid: number, private readonly mcrctlPath: string) {
    this.#client = new ControlLink(socket);
  }

  /** `mcrctl --socket SOCKET ...args` (the built bin, as a user runs it), bounded. */
  async mcrctl(args: readonly string[]): Promise<McrctlRun> {
    const t0 = Date.now();
    const r = await execa(process.execPath, [this.mcrctlPath, '--socket', this.socket, ...args], { reject: false, timeout: 30_000 });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
  }

  close(): void {
    this.#client.close();
  }

  async workers(): Promise<WorkerInfo[]> {
    return (await this.#client.request({ kind: 'workers' })).workers;
  }

  /** Rules some running worker refused or has not confirmed (empty: every worker holds the table). */
  async problems(): Promise<number> {
    return (await this.#client.request({ kind: 'listRules' })).problems.length;
  }

  async ping(timeoutMs = 5000): Promise<number> {
    const t0 = performance.now();
    await this.#client.request({ kind: 'ping' }, { timeoutMs });
    return performance.now() - t0;
  }

  /**
   * Waits until every worker slot (of `iface`, or all) is running, none
   * with a PID in `oldPids`, and no rule is refused or unconfirmed by a
   * running worker (mcrd's `list` problems; the generation is no test: a
   * change reaches only the workers of the rule's input). Resolves with
   * the time it took, or undefined if that did not happen within `timeoutMs`.
   */
  async settled(o: { iface?: string; oldPids?: ReadonlySet<number>; timeoutMs: number }): Promise<number | undefined> {
    const t0 = Date.now();
    while (Date.now() - t0 < o.timeoutMs) {
      try {
        const [ws, problems] = await Promise.all([this.workers(), this.problems()]);
        const mine = ws.filter((w) => o.iface === undefined || w.interface === o.iface);
        if (problems === 0 && mine.length > 0 && mine.every((w) => w.state === 'running' && w.pid > 0 && !(o.oldPids?.has(w.pid) ?? false))) {
          return Date.now() - t0;
        }
      } catch {
        // mcrd busy (a stopped worker delays answers): ask again.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  /** True when `pid` is alive and its parent is mcrd: only then may the soak signal it. */
  isWorker(pid: number): boolean {
    if (pid <= 0) return false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === this.mcrdPid;
    } catch {
      return false;
    }
  }

  /** Sends `signal` to a worker of mcrd, by its PID, after checking it is one. */
  signalWorker(pid: number, signal: NodeJS.Signals): boolean {
    if (!this.isWorker(pid)) return false;
    process.kill(pid, signal);
    return true;
  }
}
