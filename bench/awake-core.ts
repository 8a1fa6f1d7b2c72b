/**
 * `--awake-core`: the kernel's forwarding measured with the relay core kept
 * awake, as MCR's `--busy-poll-us` keeps it. In this VM an idle core halts
 * and is woken through the hypervisor, slowly enough for the relay core's
 * 1000-packet input backlog to overflow in a burst while the core is only
 * partly busy; MCR's busy polling removes that, and this gives the kernel
 * the same: a busy loop pinned to the relay core at SCHED_IDLE (it runs only
 * when nothing else wants the core, so the receive softirq and ksoftirqd
 * preempt it at once), running only during trials (stopped with SIGSTOP
 * between them, so the quiet-host check still sees an idle core). Its CPU
 * time is the method's, as MCR's polling is MCR's. Bounded: the loop exits
 * by itself after MAX_SEC even if nobody stops it.
 */
import type { BenchLab } from './bench-lab.js';
import { RELAY_CPU } from './config.js';
import type { LabProcess } from './lab/index.js';

const MAX_SEC = 3600;
const STOP_MS = 2000;

export interface AwakeCore {
  readonly pid: number;
  /** Lets the loop run (at a trial's start). */
  resume(): void;
  /** Stops it until the next resume (at a trial's end). */
  pause(): void;
  stop(): Promise<void>;
}

export function startAwakeCore(bl: BenchLab): AwakeCore {
  const script = `const end = Date.now() + ${MAX_SEC * 1000}; while (Date.now() < end) { /* keep the core awake */ }`;
  const proc: LabProcess = bl.rl.lab.spawn(bl.rl.relay.ns, 'chrt',
    ['--idle', '0', 'taskset', '-c', String(RELAY_CPU), process.execPath, '-e', script]);
  const signal = (sig: NodeJS.Signals): void => {
    // Our own child, by its PID; gone already is fine.
    if (!proc.exited) process.kill(proc.pid, sig);
  };
  signal('SIGSTOP');
  return {
    pid: proc.pid,
    resume: () => signal('SIGCONT'),
    pause: () => signal('SIGSTOP'),
    async stop() {
      signal('SIGCONT');
      await proc.stop('SIGKILL', STOP_MS).catch(() => undefined);
    },
  };
}
