/**
 * LabBatch: many of the lab's building steps (commands.ts) run in one
 * shell, one process started from this one instead of one per step.
 *
 * Why: starting a process costs the Node process that starts it far more
 * than the step itself. On the test VM (2026-12-07) an execa call of
 * `true` took 15 ms and 13 ms of the caller's CPU, and `ip netns exec NS
 * true` run from a shell 7 ms and none of it; a relay lab is about 35
 * steps, and the suite builds one or more per test. The steps run in
 * order and the first that fails stops the rest, as awaiting them one by
 * one would; an optional step may fail, quietly. The error names the step
 * that failed, with its stderr, under the code running it alone would give
 * (ERR_LAB_IP for iproute2's own steps, ERR_LAB_EXEC for a command in a
 * namespace).
 */

import { execa } from 'execa';
import { addressStep, type Argv, isIpStep, routeStep, shellQuote, sysctlStep, upSteps, vethSteps } from './commands.js';
import { LabError } from './errors.js';

/** What a batch needs of its Lab: the namespace check, and a handle on the shell to kill it on destroy. */
export interface BatchHooks {
  /** Throws unless the lab is live and `ns` is one of its namespaces. */
  own(ns: string): void;
  /** Throws unless the lab is live. */
  live(): void;
  started(sub: { kill(signal: NodeJS.Signals): boolean }): void;
  ended(sub: { kill(signal: NodeJS.Signals): boolean }): void;
}

interface Step {
  argv: Argv;
  optional: boolean;
}

/** Written by the script to stderr before it stops at a failed step: the step's index follows. */
const FAILED = 'mcr-lab-batch-failed-step';
/** A bound, not a cost: each step takes milliseconds, but a loaded host can stretch one to seconds. */
const BASE_TIMEOUT_MS = 10_000;
const STEP_TIMEOUT_MS = 2_000;

export class LabBatch {
  readonly #steps: Step[] = [];
  readonly #hooks: BatchHooks;

  constructor(hooks: BatchHooks) {
    this.#hooks = hooks;
  }

  /** Steps queued so far. */
  get length(): number {
    return this.#steps.length;
  }

  /** As Lab.addVeth. */
  addVeth(nsA: string, ifA: string, nsB: string, ifB: string, opts: { mtu?: number } = {}): this {
    this.#hooks.own(nsA);
    this.#hooks.own(nsB);
    return this.#add(vethSteps(nsA, ifA, nsB, ifB, opts));
  }

  /** As Lab.addAddress. */
  addAddress(ns: string, ifname: string, cidr: string): this {
    this.#hooks.own(ns);
    return this.#add([addressStep(ns, ifname, cidr)]);
  }

  /** As Lab.setUp: lo and `ifname` up. */
  setUp(ns: string, ifname: string): this {
    this.#hooks.own(ns);
    return this.#add(upSteps(ns, ifname));
  }

  /** As Lab.addRoute. */
  addRoute(ns: string, ...args: string[]): this {
    this.#hooks.own(ns);
    return this.#add([routeStep(ns, args)]);
  }

  /** Several sysctl settings inside `ns` in one call; `optional`: the batch goes on if it fails. */
  sysctl(ns: string, settings: Readonly<Record<string, string | number>>, opts: { optional?: boolean } = {}): this {
    this.#hooks.own(ns);
    return this.#add([sysctlStep(ns, settings)], opts.optional === true);
  }

  /** Runs the queued steps in order; rejects at the first required step that fails (nothing after it runs). */
  async run(): Promise<void> {
    this.#hooks.live();
    const steps = this.#steps.splice(0);
    if (steps.length === 0) return;
    const script = [
      `fail() { echo "${FAILED} $1" >&2; exit 1; }`,
      ...steps.map((s, i) => `${s.argv.map(shellQuote).join(' ')} ${s.optional ? '2>/dev/null || true' : `|| fail ${i}`}`),
    ].join('\n');
    const timeoutMs = BASE_TIMEOUT_MS + STEP_TIMEOUT_MS * steps.length;
    const sub = execa('sh', ['-c', script], { reject: false, timeout: timeoutMs, input: '', forceKillAfterDelay: 1000 });
    this.#hooks.started(sub);
    let result: Awaited<typeof sub>;
    try {
      result = await sub;
    } finally {
      this.#hooks.ended(sub);
    }
    if (result.timedOut) {
      throw new LabError('ETIMEDOUT', `${steps.length} lab steps did not end within ${timeoutMs} ms (the first: ${steps[0]?.argv.join(' ')})`);
    }
    if (!result.failed) return;
    const lines = result.stderr.split('\n');
    const index = lines.map((l) => new RegExp(`^${FAILED} (\\d+)$`).exec(l)?.[1]).filter((i) => i !== undefined).at(-1);
    const stderr = lines.filter((l) => !l.startsWith(FAILED)).join('\n').trim();
    const step = index === undefined ? undefined : steps[Number(index)];
    if (step === undefined) {
      throw new LabError('ERR_LAB_EXEC', `lab steps failed: ${stderr || result.shortMessage}`, { stderr });
    }
    const command = step.argv.join(' ');
    throw new LabError(isIpStep(step.argv) ? 'ERR_LAB_IP' : 'ERR_LAB_EXEC', `${command} failed: ${stderr || `exit ${result.exitCode}`}`, {
      command,
      stderr,
    });
  }

  #add(argvs: readonly Argv[], optional = false): this {
    for (const argv of argvs) this.#steps.push({ argv, optional });
    return this;
  }
}
