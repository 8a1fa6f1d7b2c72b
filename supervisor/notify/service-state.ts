/**
 * What mcrd tells systemd, and when: READY=1 once the configuration is
 * loaded and every worker of the configured inputs answers and holds its
 * rules (state `running`: its packet socket is bound and in the fan-out
 * group, so it forwards), then a STATUS= line every few seconds with the
 * rules, the workers and the input packet rate; RELOADING=1 / READY=1
 * around each reload (control socket or SIGHUP), STOPPING=1 on stop.
 *
 * A slot `waiting` for its input interface (missing or down) does not hold
 * readiness back: it may never appear, and mcrd is doing what the
 * configuration asks. One that keeps failing to start does: systemd's start
 * timeout then fails the unit, which is what it is for. The status line says
 * which slots wait.
 */
import type { Logger } from 'pino';
import type { WorkerInfo } from '../../proto/index.js';
import type { Notifier } from './notifier.js';

/** How often STATUS= is refreshed (one stats round trip to each worker). */
export const STATUS_INTERVAL_MS = 5_000;
/** How often readiness is re-checked while workers start. */
export const READY_POLL_MS = 100;

/** Every slot either forwards or waits for its interface. */
export function allForwarding(workers: readonly WorkerInfo[]): boolean {
  return workers.every((w) => w.state === 'running' || w.state === 'waiting');
}

/** "3 rules, 2/2 workers forwarding, 1 waiting for its interface, 12.5 kpps in" */
export function statusLine(rules: number, workers: readonly WorkerInfo[], pps: number | undefined): string {
  const running = workers.filter((w) => w.state === 'running').length;
  const waiting = workers.filter((w) => w.state === 'waiting').length;
  const failing = workers.filter((w) => w.state === 'restarting' || w.state === 'starting').length;
  const parts = [`${rules} rule${rules === 1 ? '' : 's'}`, `${running}/${workers.length} workers forwarding`];
  if (waiting > 0) parts.push(`${waiting} waiting for ${waiting === 1 ? 'its interface' : 'their interfaces'}`);
  if (failing > 0) parts.push(`${failing} starting or restarting (mcrctl workers)`);
  if (pps !== undefined) parts.push(`${formatRate(pps)} in`);
  return parts.join(', ');
}

function formatRate(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(1)} kpps`;
  return `${Math.round(pps)} pps`;
}

export interface ServiceStateOptions {
  notifier: Notifier;
  logger: Logger;
  workers: () => WorkerInfo[];
  rules: () => number;
  /** Input packets per second over all rules, or undefined while no rate is known. */
  pps: () => Promise<number | undefined>;
  statusIntervalMs?: number;
  readyPollMs?: number;
}

export class ServiceState {
  private statusTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readySent = false;

  constructor(private readonly o: ServiceStateOptions) {}

  /**
   * Sends READY=1 as soon as every worker forwards (checked now and every
   * READY_POLL_MS), then starts the STATUS= refresh. Resolves when READY
   * was sent (or at once without NOTIFY_SOCKET), or never if stopped first.
   */
  startReady(): Promise<void> {
    if (!this.o.notifier.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        this.readyTimer = undefined;
        if (this.closed) return;
        const workers = this.o.workers();
        if (!allForwarding(workers)) {
          this.o.notifier.status(`starting: ${statusLine(this.o.rules(), workers, undefined)}`);
          this.readyTimer = setTimeout(check, this.o.readyPollMs ?? READY_POLL_MS);
          return;
        }
        this.readySent = true;
        this.o.notifier.ready(statusLine(this.o.rules(), workers, undefined));
        this.o.logger.info({ workers: workers.length }, 'every worker forwards: READY=1 sent to systemd');
        this.scheduleStatus();
        resolve();
      };
      check();
    });
  }

  /**
   * Around a reload: RELOADING=1 before, READY=1 after, whatever its
   * outcome (the old rules keep forwarding when it fails). Before the first
   * READY (a SIGHUP during start-up) and while stopping, nothing is sent:
   * readiness is still startReady's to report.
   */
  async aroundReload<T>(reload: () => Promise<T>): Promise<T> {
    const tell = this.readySent && !this.closed;
    if (tell) this.o.notifier.reloading();
    try {
      return await reload();
    } finally {
      if (tell && !this.closed) this.o.notifier.ready(statusLine(this.o.rules(), this.o.workers(), undefined));
    }
  }

  stopping(): void {
    this.close();
    this.o.notifier.stopping();
  }

  close(): void {
    this.closed = true;
    if (this.statusTimer !== undefined) clearTimeout(this.statusTimer);
    if (this.readyTimer !== undefined) clearTimeout(this.readyTimer);
  }

  private scheduleStatus(): void {
    if (this.closed) return;
    this.statusTimer = setTimeout(() => {
      void this.o.pps().catch(() => undefined).then((pps) => {
        if (this.closed) return;
        this.o.notifier.status(statusLine(this.o.rules(), this.o.workers(), pps));
        this.scheduleStatus();
      });
    }, this.o.statusIntervalMs ?? STATUS_INTERVAL_MS);
    this.statusTimer.unref();
  }
}
