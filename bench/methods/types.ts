/**
 * The shape every forwarding method under test has: started in the bench
 * lab for one fan-out, ready to forward when start() resolves, and stopped
 * by its own PIDs. The runner and the trial only ever see this interface,
 * so every method is measured by exactly the same code.
 */
import type { Family, MethodName } from '../config.js';

/** MCR-only knobs for the design experiments (mcr-relay --batch / --ring-depth / --no-udp-gso). */
export interface McrTuning {
  batch?: number;
  ringDepth?: number;
  udpGso?: boolean;
  /** Any other mcr-relay flags (bench:profile --relay-args). */
  extraArgs?: string[];
}

export interface MethodStart {
  fanout: number;
  /**
   * The stream's IP version (default 4). 6: forward GROUP6:PORT from in0 to
   * the outputs over IPv6; the lab must have IPv6 on (bench-lab-ipv6.ts).
   */
  family?: Family;
  /**
   * Where the outputs send (default GROUP:PORT, the input's own group and
   * port); the anchor tests pick another to prove the rewrite. nft, the C
   * relay and GStreamer honour it.
   */
  output?: { group: string; port: number };
  tuning?: McrTuning;
  /** MCR only: extra mcrd flags (e.g. --consume-inputs, --coalesce-us N). */
  mcrdArgs?: readonly string[];
  /**
   * MCR only: the package root of another build of MCR to run mcrd from
   * (its dist/ and build/), for before/after comparisons in one run
   * (bench/latency-probe.ts --base-root).
   */
  mcrdRoot?: string;
  /**
   * MCR only: mcrd's supervisor shares the relay core with its worker
   * (`taskset -c 1`, as before `--worker-cpus` existed, and for a base build
   * without it) instead of running on the other core (`--worker-cpus 1`).
   */
  mcrdSharesCore?: boolean;
  /**
   * MCR only: the bench rule's loss-of-signal timeout (config `signalTimeoutMs`; 0 = off: mcrd's
   * stream watch then stops asking the worker for arrivals, every 500 ms at the default of 1000).
   */
  mcrdSignalTimeoutMs?: number;
  /** Kernel only: keep the relay core awake during trials (awake-core.ts, `--awake-core`). */
  awakeCore?: boolean;
}

export interface RunningMethod {
  readonly name: MethodName;
  /** The processes doing the forwarding in user space (none do for the kernel's). */
  readonly pids: readonly number[];
  /**
   * Those of `pids` placed off the relay core (mcrd's supervisor under
   * `--worker-cpus 1`): their CPU time is added to the method's cost whole,
   * not capped by core 1's task time (bench/trial.ts).
   */
  readonly offCorePids?: readonly number[];
  /** MCR only: the process whose threads run the relay loop (the worker under mcrd), for strace. */
  readonly loopPid?: number;
  /** Command lines started, for the results file. */
  readonly commands: readonly string[];
  /** The method's own counters, read between trials (MCR's loop counters; the C relay's). */
  counters?(): Promise<Record<string, number>>;
  /** Called as a trial's traffic is about to start and once it has been counted (the kernel's --awake-core loop). */
  trialStarting?(): void;
  trialEnded?(): void;
  /** Stops every process of the method by PID; resolves with its final report, if it prints one. */
  stop(): Promise<unknown>;
}
