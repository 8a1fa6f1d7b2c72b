/**
 * The hung-worker watchdog: one timer for the fleet, every
 * timing.heartbeatCheckMs (250 ms), reads each starting or running worker's
 * heartbeat, a word of shared memory its loop thread bumps every turn (at
 * least every 100 ms when idle). A worker whose heartbeat was non-zero and
 * has not moved for timing.hungAfterMs (1.5 s; mcrd --hung-worker-ms, 0 =
 * no watchdog) is hung (SIGSTOP, a stuck syscall): the verdict is written on
 * its slot, logged, and the worker killed with SIGKILL; the fleet's exit
 * path restarts it like a crash and shows the verdict. Before it kills, the
 * watchdog asks for the loop thread's scheduler state (loop-thread.ts): a
 * runnable loop is starved of CPU, not hung, and gets STARVED_GRACE times
 * the threshold first.
 */
import type { Logger } from 'pino';
import type { FleetTiming } from './fleet-options.js';
import type { Slot } from './slot.js';

/** How many times the hung threshold a runnable (starved) loop may stall before it is judged hung anyway. */
const STARVED_GRACE = 4;

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly t: Pick<FleetTiming, 'heartbeatCheckMs' | 'hungAfterMs'>,
    private readonly slots: () => Slot[],
    private readonly loopState: (pid: number) => string | undefined,
    private readonly logger: Logger,
  ) {}

  /** Starts the checks (once the fleet has a worker); unref'd, so it never keeps mcrd alive. */
  arm(): void {
    if (this.timer !== undefined || this.stopped || this.t.hungAfterMs <= 0) return;
    this.timer = setInterval(() => this.check(), this.t.heartbeatCheckMs);
    this.timer.unref();
  }

  /** For good: a draining worker stops beating, and a hung one is killed by the stop's own deadline. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One pass over the starting and running workers (a stopping worker's
   * loop stops beating by design). A heartbeat of 0 means the loop does not
   * run yet (the ready timeout covers that). The stall is measured from the
   * check that last saw the heartbeat move; mcrd's own event loop being late
   * cannot fake one, since a worker that turned meanwhile shows another value.
   */
  private check(): void {
    const now = Date.now();
    for (const s of this.slots()) {
      const w = s.worker;
      if (w === undefined || !w.connected || (s.state !== 'running' && s.state !== 'starting') || s.verdict?.worker === w) continue;
      const value = w.heartbeat();
      if (value === 0n) continue;
      if (s.beat === undefined || s.beat.worker !== w || s.beat.value !== value) {
        s.beat = { worker: w, value, sinceMs: now };
        s.starvedLogged = false;
        continue;
      }
      const stalledMs = now - s.beat.sinceMs;
      if (stalledMs < this.t.hungAfterMs) continue;
      // A loop that is runnable but gets no CPU (an overloaded machine) is
      // starved, not hung: killing it would lose its flows for a restart.
      if (w.pid !== undefined && this.loopState(w.pid) === 'R' && stalledMs < this.t.hungAfterMs * STARVED_GRACE) {
        if (!s.starvedLogged) this.logger.warn({ worker: s.id, pid: w.pid, stalledMs }, 'worker loop starved of CPU (runnable, no progress): not killed yet');
        s.starvedLogged = true;
        continue;
      }
      s.verdict = { worker: w, why: `hung: heartbeat stalled ${(stalledMs / 1000).toFixed(1)} s, killed by mcrd` };
      this.logger.warn({ worker: s.id, pid: w.pid, stalledMs, hungAfterMs: this.t.hungAfterMs },
        'worker hung: its loop made no progress (heartbeat stalled): killed with SIGKILL, it is restarted');
      // By the worker's own pid (FleetWorker.kill: never 0, never once it exited).
      w.kill('SIGKILL');
    }
  }
}
