/**
 * The registry of live labs, and the hooks that remove them when the process
 * ends any way other than a normal destroy().
 *
 * Hooks are installed once, on the first lab. On 'exit' (normal end or an
 * uncaught exception) and on SIGINT/SIGTERM/SIGHUP/SIGALRM (tap ends a timed
 * out test process by raising SIGALRM on itself) every live lab is torn
 * down synchronously: its processes are sent SIGKILL by their own PID and
 * its namespaces deleted. After a signal the hook removes itself and raises
 * the same signal again, so the process ends the way it would have without
 * us (and other listeners such as signal-exit still get their turn).
 *
 * Between the signal and the death, other code keeps running for a moment
 * (a test runner moves on to the next test). So once exiting, no new lab may
 * start, and a namespace whose `ip netns add` was already running is waited
 * for (it is time-limited) and removed before the signal is raised again.
 */

export interface Disposable {
  /** Tears everything down synchronously; must never throw; may run twice. */
  destroySync(): void;
}

const live = new Set<Disposable>();
const inflight = new Set<Promise<unknown>>();
let hooked = false;
let exitingOn: string | undefined;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'] as const;

export function track(lab: Disposable): void {
  installHooks();
  live.add(lab);
}

export function untrack(lab: Disposable): void {
  live.delete(lab);
}

/** The signal (or 'exit') the process is ending on, once the hooks have run. */
export function processExiting(): string | undefined {
  return exitingOn;
}

/** Marks a creation in flight, so a signal hook waits for it before the process dies. */
export function guard<T>(promise: Promise<T>): Promise<T> {
  inflight.add(promise);
  const forget = (): void => {
    inflight.delete(promise);
  };
  promise.then(forget, forget);
  return promise;
}

function destroyAll(labs: readonly Disposable[]): void {
  for (const lab of labs) {
    try {
      lab.destroySync();
    } catch {
      // A hook must go on to the next lab whatever happened to this one.
    }
    live.delete(lab);
  }
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    exitingOn ??= 'exit';
    destroyAll([...live]);
  });
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      exitingOn ??= signal;
      const labs = [...live];
      destroyAll(labs);
      process.removeListener(signal, onSignal);
      const reRaise = (): void => {
        process.kill(process.pid, signal);
      };
      if (inflight.size === 0) {
        reRaise();
        return;
      }
      // Each in-flight command carries its own time limit, so this ends.
      void Promise.allSettled([...inflight]).then(() => {
        destroyAll(labs);
        reRaise();
      });
    };
    process.on(signal, onSignal);
  }
}
