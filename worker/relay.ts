/**
 * One relay loop on one input interface, driven from TypeScript: opens the
 * AF_PACKET socket, sizes buffers from the interface MTU, starts the native
 * loop, joins the input groups (standalone only: under mcrd the supervisor
 * holds them, see supervisor/net/group-memberships.ts), installs and removes
 * rules, reads counters and turns native log records into pino lines. The
 * standalone `mcr-relay` and mcrd's workers are thin shells around this class.
 *
 * A replace keeps the counters of the rules that stayed (counter-carry.ts),
 * so a rule's counters in one process never go down.
 *
 * Every rule install (add, or a replace-all from a sync) opens its outputs'
 * egress sockets afresh, bound to the output interface's address at that
 * moment; nothing caches them, so a sync after an address change rebinds.
 */
import { getSystemErrorName } from 'node:util';
import type { Logger } from 'pino';
import { CounterView, monitorCounts, type CounterRecord } from './counters.js';
import { CounterCarry } from './counter-carry.js';
import { outputKey } from '../common/output-match.js';
import { native, type LoopInfo, type LoopOptions, type NativeLoop, type NativeRule, type RefusedRule, type RuleSlots } from '../native/index.js';
import { hostPort, type RuleSpec } from '../common/rule-spec.js';
import { membershipUses } from '../common/rule-groups.js';
import { describeMatch } from '../common/rule-text.js';
import type { LoopState } from '../proto/index.js';

export type RelayTuning = Omit<LoopOptions, 'packetFd'>;

export interface RuleStats {
  id: number;
  name?: string;
  match: string;
  packets: number;
  bytes: number;
  /** The loop's last arrival for the rule (Unix ms, to its 100 ms stats tick); 0: none yet. */
  lastRxMs: number;
  /** The stream monitor's counters (rtp_*, ts_*: native/core/counters.h), for rules with `monitor` set. */
  monitor?: CounterRecord;
  /** destination, interface, connected, then the output's counters. */
  outputs: Array<Record<string, number | string | boolean>>;
}

/** What replaceRules installed: every rule's id, in order, and the rules it had to leave out. */
export interface ReplaceResult {
  ids: number[];
  refused: Array<{ index: number; id: number; error: Error & { code?: string } }>;
}

export interface RelayStats {
  loop: CounterRecord;
  rules: RuleStats[];
}

interface InstalledRule {
  id: number;
  spec: RuleSpec;
  slots: RuleSlots;
}

const DEFAULT_RULE_SLOTS = 1024;

/** Buffer size for an interface MTU: Ethernet header, one VLAN tag, 64-byte aligned. */
export function bufferSizeForMtu(mtu: number): number {
  // Capped at the loop's limit: loopback's 65536 MTU would exceed it.
  return Math.min(65536, Math.ceil((mtu + 18) / 64) * 64);
}

const INGRESS_MEMORY = 32 * 1024 * 1024;

/**
 * Default number of receive buffers (multishot) or ring slots (ring). The
 * ring is the only queue in front of the loop in ring mode, so it gets about
 * as much memory as the socket receive queue does in multishot mode (32 MiB):
 * 16384 slots at MTU 1500, 2048 at MTU 9000. Ring slots are a power of two
 * of at least frame + 96 bytes of TPACKET header (native/core/packet_ring.cc).
 */
export function defaultBufferCount(ingress: 'ring' | 'multishot', bufferSize: number): number {
  if (ingress === 'multishot') return 4096;
  let slot = 256;
  while (slot < bufferSize + 96) slot *= 2;
  return Math.min(32768, Math.max(1024, 2 ** Math.floor(Math.log2(INGRESS_MEMORY / slot))));
}

export interface RelayOptions {
  /**
   * Join each rule's input group on the input interface (default true). mcrd's
   * workers pass false: the supervisor holds the memberships, so they outlive
   * worker restarts and need no socket in the worker.
   */
  joinGroups?: boolean;
  /** Build rules whose output interfaces are missing, counting errors on those outputs (NativeRule.tolerateMissingOutputs). */
  tolerateMissingOutputs?: boolean;
  /**
   * The packet socket given to start() is deferred (mcrd's workers): it
   * receives nothing until activate() binds it and joins this fan-out group
   * (0: none).
   */
  deferredFanoutGroup?: number;
  /**
   * Called once the loop thread ended on an error (its ring failed:
   * MCR_LOOP_ENDED, logged first): nothing is forwarded any more, so the
   * process should end and be restarted rather than run on silently.
   * `code` is the errno's name.
   */
  onLoopEnded?: (code: string, message: string) => void;
}

export class Relay {
  private loop: NativeLoop | undefined;
  private view: CounterView | undefined;
  private packetFd = -1;
  private readonly groupFds = new Map<string, { fd: number; users: number }>();
  private readonly rules = new Map<number, InstalledRule>();
  /** Counters of rules that stayed through a replace (counter-carry.ts). */
  private readonly carry = new CounterCarry();
  private nextId = 1;
  private active: boolean;
  /** The input's index, looked up at start (activate() may run when the rules' sockets left no descriptor for the lookup). */
  private inputIfindex: number | undefined;
  info: LoopInfo | undefined;

  constructor(
    readonly inputInterface: string,
    private readonly logger: Logger,
    private readonly tuning: RelayTuning = {},
    private readonly options: RelayOptions = {},
  ) {
    this.active = options.deferredFanoutGroup === undefined;
  }

  /**
   * How the loop runs, as its start settled it (mcrctl workers): the
   * scheduler slice in force (0: the kernel's) and why the default short one
   * was refused, the real-time priority in force and why the default's was
   * refused (a priority given as a number fails the start instead),
   * DEFER_TASKRUN, and whether its sleeps stay out of iowait. Undefined
   * before start().
   */
  loopState(): LoopState | undefined {
    const info = this.info;
    if (info === undefined) return undefined;
    return {
      ingress: info.ingress, sliceUs: info.loopSliceUs, rtPriority: info.loopRtPriority,
      deferTaskrun: info.deferTaskrun, noIowait: info.noIowait,
      ...(info.loopSliceRefused !== undefined ? { sliceRefused: info.loopSliceRefused.code } : {}),
      ...(info.loopRtRefused !== undefined ? { rtRefused: info.loopRtRefused.code } : {}),
    };
  }

  /** The packet socket is deferred and not yet activated: the loop receives nothing. */
  get awaitingActivation(): boolean {
    return !this.active && this.loop !== undefined;
  }

  /**
   * Activates a deferred packet socket (RelayOptions.deferredFanoutGroup):
   * binds it to the input interface and joins the fan-out group; from here on
   * the loop receives. Called on this thread while the loop runs: the loop's
   * ingress armed its poll (ring) or multishot recv on the unbound socket,
   * and the kernel wakes that wait on the first frame after the bind (the
   * ring set up on the unbound socket is hooked in by the bind), so nothing
   * needs re-arming; tests/native/deferred-packet-socket.test.ts covers both
   * ingress modes. Needs no capability. Returns false if there was nothing
   * to activate; throws with the errno code if the kernel refused.
   */
  activate(): boolean {
    if (this.active) return false;
    this.requireLoop();
    native.activatePacketSocket(this.packetFd, this.inputInterface, this.options.deferredFanoutGroup ?? 0, this.inputIfindex);
    this.active = true;
    this.logger.info({ fanoutGroup: this.options.deferredFanoutGroup }, 'packet socket activated: receiving');
    return true;
  }

  /** The loop's form of a rule, with this relay's tolerance of missing output interfaces. */
  private native(id: number, spec: RuleSpec): NativeRule {
    // The addon reads the rule model's own fields: no second shape of a rule.
    return this.options.tolerateMissingOutputs === true ? { ...spec, id, tolerateMissingOutputs: true } : { ...spec, id };
  }

  /**
   * Starts the loop. `packetFd` is an AF_PACKET socket for the input
   * interface, bound already or deferred (see activate(); the supervisor
   * hands workers theirs deferred); without it the
   * relay opens its own, which needs CAP_NET_RAW. Either way the relay owns
   * the fd from here on and closes it at stop. `heartbeatFd` (mcrd's
   * heartbeat block, native createHeartbeat) is mapped by the loop and closed
   * here, started or not.
   */
  start(packetFd?: number, heartbeatFd?: number, loopCpu?: number): LoopInfo {
    const ruleSlots = this.tuning.ruleSlots ?? DEFAULT_RULE_SLOTS;
    const ingress = this.tuning.ingress ?? 'ring';
    let mtu = 0;
    try {
      // Inside the try: an interface gone since the supervisor opened its
      // socket (ENODEV) must not leave the fds it handed over open.
      mtu = native.interfaceMtu(this.inputInterface);
      if (!this.active) this.inputIfindex = native.interfaceIndex(this.inputInterface);
      this.packetFd = packetFd ?? native.openPacketSocket(this.inputInterface);
      const bufferSize = this.tuning.bufferSize ?? bufferSizeForMtu(mtu);
      this.loop = new native.Loop({
        bufferCount: defaultBufferCount(ingress, bufferSize),
        ...this.tuning,
        bufferSize,
        ingress,
        ruleSlots,
        packetFd: this.packetFd,
        ...(heartbeatFd === undefined ? {} : { heartbeatFd }),
        ...(loopCpu === undefined ? {} : { loopCpu }),
      });
      // The loop's log events are read when it says some wait, not on a
      // timer: an idle worker's Node thread then sleeps (native/core/log_ring.h).
      this.info = this.loop.start(() => this.pumpLogs());
    } catch (err) {
      if (this.packetFd >= 0) native.closeFd(this.packetFd);
      else if (packetFd !== undefined) native.closeFd(packetFd);
      this.packetFd = -1;
      this.loop = undefined;
      throw err;
    } finally {
      if (heartbeatFd !== undefined) native.closeFd(heartbeatFd);
    }
    this.view = new CounterView(this.loop.counters(), native.counterLayout(), ruleSlots);
    this.logger.info({ mtu, ...this.info }, 'relay loop started');
    return this.info;
  }

  /**
   * Installs a validated rule; resolves with its id once the loop applied it.
   * `id` is the caller's (mcrd's workers pass the supervisor's, so log lines
   * name rules as mcrctl does); by default the relay numbers rules itself.
   */
  async addRule(spec: RuleSpec, id?: number): Promise<number> {
    const loop = this.requireLoop();
    const ruleId = id ?? this.nextId++;
    if (this.rules.has(ruleId)) throw Object.assign(new Error(`rule ${ruleId} is already installed`), { code: 'EEXIST' });
    const groups = membershipUses(spec);
    this.joinAll(groups);
    try {
      const slots = await loop.addRule(this.native(ruleId, spec));
      // A base carried for this id is a rule the last replace refused and
      // this add retries (command-handler.ts): its numbers go on.
      this.rules.set(ruleId, { id: ruleId, spec, slots });
      this.logger.info({ rule: ruleId, name: spec.name, match: describeMatch(spec) }, 'rule added');
      return ruleId;
    } catch (err) {
      for (const use of groups) this.leaveGroup(use);
      throw err;
    }
  }

  /**
   * Swaps the whole rule set at once: the loop switches between two
   * datagrams. A rule that cannot be built (its output socket refused, say)
   * is left out and reported; every other rule is installed, so one bad
   * rule never stops the rest. If the set as a whole is refused (a duplicate
   * match) the old set stays and this rejects. `ids` as for addRule.
   */
  async replaceRules(specs: RuleSpec[], ids?: number[]): Promise<ReplaceResult> {
    const loop = this.requireLoop();
    const ruleIds = ids ?? specs.map(() => this.nextId++);
    const joined = specs.flatMap(membershipUses);
    this.joinAll(joined);
    let results: Array<RuleSlots | RefusedRule>;
    try {
      results = await loop.replaceRules(specs.map((spec, i) => this.native(ruleIds[i] ?? 0, spec)));
    } catch (err) {
      for (const use of joined) this.leaveGroup(use);
      throw err;
    }
    // Read now, before anything can claim (and zero) the old slots again.
    const before = this.stats().rules;
    const keysOf = new Map([...this.rules.values()].map((r) => [r.id, r.spec.outputs.map(outputKey)]));
    for (const old of this.rules.values()) {
      for (const use of membershipUses(old.spec)) this.leaveGroup(use);
    }
    this.rules.clear();
    const refused: ReplaceResult['refused'] = [];
    specs.forEach((spec, i) => {
      const id = ruleIds[i];
      const r = results[i];
      if (id === undefined || r === undefined) return;
      if ('refused' in r) {
        refused.push({ index: i, id, error: r.refused });
        for (const use of membershipUses(spec)) this.leaveGroup(use);
        this.logger.error({ rule: id, name: spec.name, match: describeMatch(spec), code: r.refused.code, err: r.refused.message },
          'rule refused: it is not forwarded; the other rules are');
        return;
      }
      this.rules.set(id, { id, spec, slots: r });
    });
    // Refused rules keep their numbers too, for the addRule that retries them.
    this.carry.replaced(before.map((r) => ({ ...r, outputKeys: keysOf.get(r.id) ?? [] })),
      [...[...this.rules.values()].map((r) => ({ id: r.id, outputKeys: r.spec.outputs.map(outputKey) })),
        ...refused.map((r) => ({ id: r.id, outputKeys: specs[r.index]?.outputs.map(outputKey) ?? [] }))]);
    this.logger.info({ rules: ruleIds.length - refused.length, refused: refused.length }, 'rules replaced');
    return { ids: ruleIds, refused };
  }

  async removeRule(id: number): Promise<void> {
    const loop = this.requireLoop();
    const rule = this.rules.get(id);
    if (rule === undefined) {
      const err = new Error(`no rule with id ${id}: list the rules to see their ids`) as Error & { code: string };
      err.code = 'ERR_MCR_NO_RULE';
      throw err;
    }
    await loop.removeRule(id);
    this.rules.delete(id);
    this.carry.forget(id);
    for (const use of membershipUses(rule.spec)) this.leaveGroup(use);
    this.logger.info({ rule: id, name: rule.spec.name }, 'rule removed');
  }

  hasRule(id: number): boolean {
    return this.rules.has(id);
  }

  ruleIds(): number[] {
    return [...this.rules.keys()];
  }

  stats(): RelayStats {
    const view = this.view;
    if (view === undefined) return { loop: {}, rules: [] };
    const rules: RuleStats[] = [...this.rules.values()].map((r) => {
      const counts = view.rule(r.slots.ruleSlot);
      return this.carry.add(r.id, {
        id: r.id,
        ...(r.spec.name !== undefined ? { name: r.spec.name } : {}),
        match: describeMatch(r.spec),
        packets: counts.packets ?? 0,
        bytes: counts.bytes ?? 0,
        lastRxMs: counts.last_rx_ms ?? 0,
        ...(r.spec.monitor !== undefined ? { monitor: monitorCounts(counts) } : {}),
        outputs: r.spec.outputs.map((o, i) => ({
          destination: hostPort(o.group, o.port),
          interface: o.interface,
          connected: r.slots.outputConnected[i] ?? false,
          ...view.output(r.slots.outputSlots[i] ?? 0),
        })),
      });
    });
    return { loop: view.loop(), rules };
  }

  /**
   * Each installed rule's last arrival (Unix ms and CLOCK_MONOTONIC ms,
   * 0 = none yet): what mcrd's stream watch polls, without the rest of stats().
   */
  arrivals(): { ruleIds: number[]; lastRxMs: number[]; lastRxMonoMs: number[] } {
    const view = this.view;
    const ruleIds: number[] = [];
    const lastRxMs: number[] = [];
    const lastRxMonoMs: number[] = [];
    if (view === undefined) return { ruleIds, lastRxMs, lastRxMonoMs };
    for (const r of this.rules.values()) {
      ruleIds.push(r.id);
      lastRxMs.push(view.ruleWord(r.slots.ruleSlot, 'last_rx_ms'));
      lastRxMonoMs.push(view.ruleWord(r.slots.ruleSlot, 'last_rx_mono_ms'));
    }
    return { ruleIds, lastRxMs, lastRxMonoMs };
  }

  /** Stops receiving, lets in-flight sends drain, then releases everything. */
  async stop(): Promise<RelayStats> {
    const loop = this.loop;
    if (loop === undefined) return this.stats();
    let failure: unknown;
    try {
      await loop.stop();
    } catch (err) {
      failure = err;
    }
    // The counter block outlives the thread: these are the final numbers.
    const final = this.stats();
    this.pumpLogs();
    for (const { fd } of this.groupFds.values()) native.closeFd(fd);
    this.groupFds.clear();
    if (this.packetFd >= 0) native.closeFd(this.packetFd);
    this.packetFd = -1;
    this.loop = undefined;
    if (failure !== undefined) throw failure;
    return final;
  }

  private requireLoop(): NativeLoop {
    if (this.loop === undefined) {
      const err = new Error('the relay loop is not running') as Error & { code: string };
      err.code = 'ERR_MCR_NOT_RUNNING';
      throw err;
    }
    return this.loop;
  }

  /**
   * Joins every group or none: when one join fails (no descriptor left,
   * say) the groups joined before it are left again, so a refused rule
   * holds no membership.
   */
  private joinAll(uses: ReadonlyArray<[string, string | undefined]>): void {
    let done = 0;
    try {
      for (const use of uses) {
        this.joinGroup(use);
        done++;
      }
    } catch (err) {
      for (const use of uses.slice(0, done)) this.leaveGroup(use);
      throw err;
    }
  }

  /**
   * Holds one membership per (group, source) the rules want, counted: (*,G)
   * with its own socket, and a rule naming source addresses joins each
   * source-specific (IGMPv3 / MLDv2 INCLUDE) on a socket of its own, since
   * SSM networks deliver nothing to a (*,G) join and a socket's source list
   * is limited (igmp_max_msf). mcrd's workers join nothing (mcrd does).
   */
  private joinGroup([group, source]: [string, string | undefined]): void {
    if (this.options.joinGroups === false) return;
    const key = source === undefined ? group : `${group}|${source}`;
    const held = this.groupFds.get(key);
    if (held !== undefined) {
      held.users++;
      return;
    }
    if (source === undefined) {
      this.groupFds.set(key, { fd: native.joinGroup(this.inputInterface, group), users: 1 });
      return;
    }
    const fd = native.openMembershipSocket(group.includes(':') ? 6 : 4);
    try {
      native.changeSourceMembership(fd, native.interfaceIndex(this.inputInterface), group, source, true);
    } catch (err) {
      native.closeFd(fd);
      throw err;
    }
    this.groupFds.set(key, { fd, users: 1 });
  }

  private leaveGroup([group, source]: [string, string | undefined]): void {
    const key = source === undefined ? group : `${group}|${source}`;
    const held = this.groupFds.get(key);
    if (held === undefined) return;
    if (--held.users > 0) return;
    native.closeFd(held.fd);
    this.groupFds.delete(key);
  }

  private pumpLogs(): void {
    if (this.loop === undefined) return;
    for (const e of this.loop.drainLogs()) {
      const output = this.outputForSlot(e.slot);
      const fields = { code: e.code, errno: e.errno, count: e.count, ...output };
      const msg = e.count > 1 ? `${e.message} (${e.count} times since the last report)` : e.message;
      this.logger[e.level >= 50 ? 'error' : e.level >= 40 ? 'warn' : 'info'](fields, msg);
      if (e.code === 'MCR_LOOP_ENDED') this.options.onLoopEnded?.(e.errno > 0 ? getSystemErrorName(-e.errno) : e.code, e.message);
    }
  }

  private outputForSlot(slot: number): Record<string, unknown> {
    if (slot < 0) return {};
    for (const r of this.rules.values()) {
      const i = r.slots.outputSlots.indexOf(slot);
      const o = r.spec.outputs[i];
      if (i >= 0 && o !== undefined) return { rule: r.id, output: hostPort(o.group, o.port), outputInterface: o.interface };
    }
    return { outputSlot: slot };
  }
}
