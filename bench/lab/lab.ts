/**
 * A Lab: a set of network namespaces, the links between them and the
 * processes running in them, all removed together by destroy().
 *
 * A lab only ever acts inside namespaces it created itself: every method
 * that takes a namespace checks that it is one of ours, so no command can
 * reach the root namespace or its interfaces. Veths are created straight
 * into their namespaces (`ip link add A netns X type veth peer name B
 * netns Y`), so nothing appears in the root namespace even for an instant.
 * Live labs are registered so the process exit and signal hooks
 * (registry.ts) can remove them when a test dies without calling destroy();
 * what a SIGKILLed process left, the first lab of a later one removes
 * (orphans.ts).
 */

import { execa, type Result } from 'execa';
import { LabBatch } from './batch.js';
import { addressStep, type Argv, routeStep, shellQuote, sysctlArgs, upSteps, vethSteps } from './commands.js';
import { LabError } from './errors.js';
import { ip, ipSync, isNoSuch } from './ip.js';
import { checkIfname, checkTag, checkVlanId, namespaceName, newLabId } from './names.js';
import { removeOrphanNamespaces } from './orphans.js';
import { LabProcess, type SpawnOptions } from './process.js';
import { guard, processExiting, track, untrack } from './registry.js';
import { raceTimeout } from './time.js';

export interface ExecOptions {
  /** Reject (with ERR_LAB_EXEC / ETIMEDOUT) when the command fails (default true). */
  reject?: boolean;
  /** Time limit; the command is killed when it runs out (default 30 s). */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed (default: empty). */
  input?: string;
}

type ExecaExecOptions = {
  reject: false;
  timeout: number;
  input: string;
  forceKillAfterDelay: number;
};
export type ExecResult = Result<ExecaExecOptions>;

/** The one sweep for orphaned lab namespaces this process runs, on its first lab. */
let orphanSweep: Promise<string[]> | undefined;

/** Grace time processes get on destroy() before SIGKILL. */
const DESTROY_STOP_MS = 2000;

export class Lab {
  readonly tag: string;
  /** `<pid>-<rand4>`: the unique part of every namespace name of this lab. */
  readonly id: string;

  readonly #roles = new Map<string, string>(); // role -> namespace name
  readonly #owned = new Set<string>(); // namespace names
  readonly #processes = new Set<LabProcess>();
  readonly #execs = new Set<{ kill(signal: NodeJS.Signals): boolean }>();
  #destroying: Promise<void> | undefined;

  private constructor(tag: string) {
    this.tag = tag;
    this.id = newLabId();
  }

  /** Creates an empty lab; `tag` ([a-z0-9_], ≤16) appears in namespace names. */
  static async create(tag: string): Promise<Lab> {
    checkTag('tag', tag);
    // Once per process: what labs of SIGKILLed processes left (orphans.ts).
    orphanSweep ??= removeOrphanNamespaces(warn);
    await orphanSweep;
    const exiting = processExiting();
    if (exiting !== undefined) throw new LabError('ERR_LAB_DESTROYED', `no new lab: the process is ending (${exiting})`);
    const lab = new Lab(tag);
    track(lab);
    return lab;
  }

  /** The real names of this lab's namespaces, in creation order. */
  get namespaces(): readonly string[] {
    return [...this.#owned];
  }

  get destroyed(): boolean {
    return this.#destroying !== undefined;
  }

  /** The namespace created for `role`. */
  ns(role: string): string {
    const name = this.#roles.get(role);
    if (name === undefined) throw new LabError('ERR_LAB_ARG', `lab ${this.id} has no namespace for role ${role}`);
    return name;
  }

  /** Creates a namespace for `role` and returns its real name. */
  async addNamespace(role: string): Promise<string> {
    this.#assertLive();
    checkTag('role', role);
    if (this.#roles.has(role)) throw new LabError('ERR_LAB_EXISTS', `role ${role} already exists in lab ${this.id}`);
    const name = namespaceName(this.id, this.tag, role);
    // Recorded before it exists so a destroy() racing with us still deletes it.
    this.#roles.set(role, name);
    this.#owned.add(name);
    await guard(ip(['netns', 'add', name]));
    if (this.destroyed) {
      // A teardown ran while `ip netns add` was in flight and may have missed
      // it. Synchronously: the process may be about to die of a signal.
      ipSync(['netns', 'del', name]);
      throw new LabError('ERR_LAB_DESTROYED', `lab ${this.id} was destroyed while creating ${name}`);
    }
    return name;
  }

  /** A veth pair with one end in each namespace (both may be the same). */
  async addVeth(nsA: string, ifA: string, nsB: string, ifB: string, opts: { mtu?: number } = {}): Promise<void> {
    this.#own(nsA);
    this.#own(nsB);
    await runIpSteps(vethSteps(nsA, ifA, nsB, ifB, opts));
  }

  /** `ip addr add CIDR dev IFNAME` inside `ns`. */
  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    this.#own(ns);
    await runIpSteps([addressStep(ns, ifname, cidr)]);
  }

  /** An 802.1Q sub-interface `name` of `parentIf` inside `ns`. */
  async addVlan(ns: string, parentIf: string, vlanId: number, name: string): Promise<void> {
    this.#own(ns);
    checkIfname(parentIf);
    checkIfname(name);
    checkVlanId(vlanId);
    try {
      await ip(['-n', ns, 'link', 'add', 'link', parentIf, 'name', name, 'type', 'vlan', 'id', String(vlanId)]);
    } catch (err) {
      // rtnetlink answers "Unknown device type" when no 'vlan' link type is
      // registered: a kernel built without CONFIG_VLAN_8021Q (or no 8021q module).
      if (err instanceof LabError && /unknown device type/i.test(err.stderr ?? '')) {
        throw new LabError('ERR_LAB_UNSUPPORTED', `802.1Q VLANs unsupported by this kernel (CONFIG_VLAN_8021Q): ${err.message}`, {
          cause: err,
          stderr: err.stderr,
          command: err.command,
        });
      }
      throw err;
    }
  }

  /** `ip route add ...args` inside `ns`, e.g. addRoute(ns, '224.0.0.0/4', 'dev', 'up0'). */
  async addRoute(ns: string, ...args: string[]): Promise<void> {
    this.#own(ns);
    await runIpSteps([routeStep(ns, args)]);
  }

  /** Brings `ifname` up, and `lo` with it (a namespace starts with lo down). */
  async setUp(ns: string, ifname: string): Promise<void> {
    this.#own(ns);
    await runIpSteps(upSteps(ns, ifname));
  }

  /**
   * A batch of building steps for this lab's namespaces, run in one shell
   * by its run() (batch.ts: one process started instead of one per step).
   */
  batch(): LabBatch {
    this.#assertLive();
    return new LabBatch({
      own: (ns) => this.#own(ns),
      live: () => this.#assertLive(),
      started: (sub) => this.#execs.add(sub),
      ended: (sub) => this.#execs.delete(sub),
    });
  }

  /**
   * `sysctl -w KEY=VALUE` inside `ns` (ERR_LAB_ARG for a key or value
   * that is not plain: commands.ts). Use '/' as the separator when a key
   * holds an interface name with a dot (VLANs): net/ipv4/conf/in0.100/rp_filter.
   */
  async sysctl(ns: string, key: string, value: string | number, opts: { optional?: boolean } = {}): Promise<void> {
    await this.exec(ns, 'sysctl', sysctlArgs({ [key]: value }), { reject: !opts.optional, timeoutMs: 5000 });
  }

  /** Runs a command inside `ns` to completion (bounded by timeoutMs). */
  async exec(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.#own(ns);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const subprocess = execa('ip', ['netns', 'exec', ns, cmd, ...args], {
      reject: false,
      timeout: timeoutMs,
      input: opts.input ?? '',
      forceKillAfterDelay: 1000,
    } satisfies ExecaExecOptions);
    this.#execs.add(subprocess);
    let result: ExecResult;
    try {
      result = await subprocess;
    } finally {
      this.#execs.delete(subprocess);
    }
    if (opts.reject !== false && result.failed) {
      const command = `${cmd} ${args.join(' ')}`.trim();
      const stderr = result.stderr.trim();
      const why = result.timedOut ? `timed out after ${timeoutMs} ms` : result.shortMessage;
      throw new LabError(result.timedOut ? 'ETIMEDOUT' : 'ERR_LAB_EXEC', `${command} in ${ns}: ${why}`, {
        command,
        stderr,
      });
    }
    return result;
  }

  /** Starts a long-running command inside `ns`; see LabProcess. */
  spawn(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): LabProcess {
    this.#own(ns);
    const proc = new LabProcess(ns, cmd, args, opts);
    this.#processes.add(proc);
    proc.result.then(
      () => this.#processes.delete(proc),
      () => this.#processes.delete(proc),
    );
    return proc;
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL, each by its PID), then
   * deletes every namespace, which takes their interfaces with them.
   * Idempotent; never throws: problems become process warnings.
   */
  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown();
    return this.#destroying;
  }

  /** Synchronous teardown for exit hooks: SIGKILL by PID, then delete namespaces. */
  destroySync(): void {
    this.#destroying ??= Promise.resolve();
    untrack(this);
    for (const proc of this.#processes) proc.killNow();
    for (const sub of this.#execs) sub.kill('SIGKILL');
    for (const name of this.#owned) {
      const r = ipSync(['netns', 'del', name]);
      if (!r.ok && !isNoSuch(r.stderr)) warn(`ip netns del ${name}: ${r.stderr.trim()}`);
    }
  }

  async #teardown(): Promise<void> {
    try {
      for (const sub of this.#execs) sub.kill('SIGKILL');
      await Promise.all(
        [...this.#processes].map((proc) =>
          proc.stop('SIGTERM', DESTROY_STOP_MS).catch((err: unknown) => warn(`stopping ${proc.command}: ${String(err)}`)),
        ),
      );
      // All in one shell (batch.ts says why); whatever it could not settle,
      // one by one as before.
      const left = await deleteNamespaces([...this.#owned]);
      for (const name of left) await this.#deleteNamespace(name);
    } catch (err) {
      warn(`lab ${this.id} teardown: ${String(err)}`);
    } finally {
      untrack(this);
    }
  }

  async #deleteNamespace(name: string): Promise<void> {
    // Processes we did not start (children of ours) would keep the namespace
    // and its veths alive after its name is gone. We only end our own PIDs,
    // so report such leftovers rather than kill them.
    const pids = await raceTimeout(ip(['netns', 'pids', name]), 5000).catch(() => undefined);
    if (pids?.done && pids.value.trim() !== '') {
      warnStray(name, pids.value.trim().split(/\s+/).join(' '));
    }
    try {
      await ip(['netns', 'del', name]);
    } catch (err) {
      if (!(err instanceof LabError && isNoSuch(err.stderr ?? ''))) warn(`ip netns del ${name}: ${String(err)}`);
    }
  }

  #assertLive(): void {
    if (this.destroyed) throw new LabError('ERR_LAB_DESTROYED', `lab ${this.id} is destroyed`);
  }

  /** Refuses any namespace this lab did not create (and so the root namespace). */
  #own(ns: string): void {
    this.#assertLive();
    if (!this.#owned.has(ns)) throw new LabError('ERR_LAB_NOT_OWNED', `namespace ${ns} does not belong to lab ${this.id}`);
  }
}

/** Runs `fn` with a fresh lab and destroys the lab however `fn` ends. */
export async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(tag);
  try {
    return await fn(lab);
  } finally {
    await lab.destroy();
  }
}

/**
 * Deletes namespaces in one shell: for each, what `ip netns pids` lists
 * (processes we did not start, children of ours, would keep the namespace
 * and its veths alive after its name is gone: reported, not killed, since
 * we only end our own PIDs), then `ip netns del`. Returns the names it
 * could not settle (the shell failed or ran out of time, or a delete
 * failed for another reason than the namespace being gone already), for
 * the caller to delete one by one.
 */
async function deleteNamespaces(names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const quoted = names.map(shellQuote).join(' ');
  const script = `for ns in ${quoted}; do
  printf '@pids %s %s\\n' "$ns" "$(ip netns pids "$ns" 2>/dev/null | tr '\\n' ' ')"
  if err=$(ip netns del "$ns" 2>&1); then printf '@deleted %s\\n' "$ns"; else printf '@failed %s %s\\n' "$ns" "$(printf '%s' "$err" | tr '\\n' ' ')"; fi
done`;
  // Out of time, the lines written so far still count.
  const run = await execa('sh', ['-c', script], { reject: false, input: '', timeout: 5000 + 2000 * names.length, forceKillAfterDelay: 1000 });
  const settled = new Set<string>();
  for (const line of run.stdout.split('\n')) {
    const [mark, name, ...rest] = line.split(' ');
    if (name === undefined || !names.includes(name)) continue;
    const what = rest.join(' ').trim();
    if (mark === '@pids' && what !== '') warnStray(name, what);
    if (mark === '@deleted') settled.add(name);
    if (mark === '@failed' && isNoSuch(what)) settled.add(name);
  }
  return names.filter((n) => !settled.has(n));
}

/** Runs `ip` steps (commands.ts argv, `ip` first) one after the other. */
async function runIpSteps(steps: readonly Argv[]): Promise<void> {
  for (const argv of steps) await ip(argv.slice(1));
}

/** A namespace kept by processes the lab did not start (reported, never killed: we end only our own PIDs). */
function warnStray(name: string, pids: string): void {
  warn(`namespace ${name} still has processes not started by the lab: ${pids}`);
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'MCR_LAB_CLEANUP' });
}
