/**
 * mcrd's signals, listened to from the start of its start-up. Until a
 * process has a listener for SIGTERM, SIGINT or SIGHUP, the kernel's default
 * action applies to it, and that action ends the process at once: no drain,
 * no tc filter removed, no exit code 0 for a supervisor to see. mcrd used to
 * add its listeners only after "mcrd ready", so a stop sent right at
 * readiness (or during start-up, as systemd does when a start is cancelled)
 * killed it. Now the listeners come before the first component starts, and a
 * signal that arrives while mcrd is still starting waits for start-up to
 * finish: then a stop drains and exits as any other stop, and a reload reads
 * the file again (it may have changed after start-up read it). A second
 * SIGTERM or SIGINT, while the first is held or its drain runs, is someone
 * who will not wait (Ctrl-C twice): it goes to `onSecondStop`, which ends
 * mcrd at once, as mcr-relay does.
 */

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface SignalActions {
  stop(signal: StopSignal): void;
  reload(): void;
}

/** What a signal during start-up is told; the log says why nothing happens yet. */
export type DeferredNote = (signal: NodeJS.Signals) => void;

export class DaemonSignals {
  private actions: SignalActions | undefined;
  private pendingStop: StopSignal | undefined;
  private pendingReload = false;
  private stops = 0;

  constructor(private readonly onDeferred: DeferredNote, private readonly onSecondStop: (signal: StopSignal) => void,
    proc: Pick<NodeJS.Process, 'on'> = process) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) proc.on(signal, () => this.stopRequested(signal));
    proc.on('SIGHUP', () => this.reloadRequested());
  }

  /** Start-up is over: from now on each signal acts at once, and one that came during start-up acts now (a stop wins over a reload). */
  started(actions: SignalActions): void {
    this.actions = actions;
    if (this.pendingStop !== undefined) actions.stop(this.pendingStop);
    else if (this.pendingReload) actions.reload();
    this.pendingStop = undefined;
    this.pendingReload = false;
  }

  private stopRequested(signal: StopSignal): void {
    if (++this.stops > 1) {
      this.onSecondStop(signal);
      return;
    }
    if (this.actions !== undefined) {
      this.actions.stop(signal);
      return;
    }
    this.pendingStop = signal;
    this.onDeferred(signal);
  }

  private reloadRequested(): void {
    if (this.actions !== undefined) {
      this.actions.reload();
      return;
    }
    this.pendingReload = true;
    this.onDeferred('SIGHUP');
  }
}
