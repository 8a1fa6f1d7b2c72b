/**
 * How many rules and outputs mcrd lets one input interface have, and what
 * a worker needs to hold that many: counter slots, file descriptors and room
 * on its command stream. The rule table, the config loader and the fleet all
 * take their numbers from here, so an add, a reload, a `check` and a start
 * from a config file refuse at the same count (ENOSPC), and a worker is
 * never started with fewer slots than mcrd may ask it to fill, nor sent a
 * full sync larger than its command frame (ruleWireBytes).
 *
 * Why twice the limits: a full rule sync (replace-all) builds the new set,
 * claiming its counter slots and opening its sockets, before the old set is
 * retired (native/addon/loop_wrap.cc, docs/internals.md), so for a moment a
 * worker holds both.
 */
import { readFileSync } from 'node:fs';

/** Rules per input interface unless daemon.maxRulesPerInterface or --max-rules-per-interface says otherwise (upstream MCR allows 10 000 per worker). */
export const DEFAULT_MAX_RULES_PER_INTERFACE = 10_000;
/** Highest daemon.maxRulesPerInterface: keeps a worker's output slots (2 × 4 × this + margin) under the loop's 1 048 576. */
export const MAX_MAX_RULES_PER_INTERFACE = 100_000;
/** Outputs per input interface, as a multiple of its rule limit (4: 40 000 at the default). */
export const OUTPUTS_PER_RULE_LIMIT = 4;
/**
 * Slots beyond twice the limits: a removed rule's output keeps its slot
 * until its last send completes, so a remove and an add in quick succession
 * right after a sync may briefly need a few more.
 */
const RULE_SLOT_MARGIN = 64;
const OUTPUT_SLOT_MARGIN = 1024;
/** Command-stream bytes allowed per rule slot and per output slot (names are free text; outputs ~30 bytes encoded). */
const FRAME_BYTES_PER_RULE_SLOT = 512;
const FRAME_BYTES_PER_OUTPUT_SLOT = 64;
/** File descriptors a worker uses besides its egress sockets (Node, its packet socket, the command stream, pipes). */
const WORKER_BASE_FDS = 64;

export interface RuleLimits {
  /** Rules one input interface may have. */
  maxRules: number;
  /** Outputs, summed over those rules, one input interface may have. */
  maxOutputs: number;
}

export interface WorkerSlots {
  ruleSlots: number;
  outputSlots: number;
}

export function ruleLimits(maxRules: number = DEFAULT_MAX_RULES_PER_INTERFACE): RuleLimits {
  return { maxRules, maxOutputs: maxRules * OUTPUTS_PER_RULE_LIMIT };
}

/** Why `value` is not a valid rules-per-interface limit (text to follow the field or flag), or undefined. */
export function checkMaxRules(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_MAX_RULES_PER_INTERFACE) return undefined;
  return `expected an integer 1..${MAX_MAX_RULES_PER_INTERFACE} (rules per input interface)`;
}

/** The counter slots a worker's loop needs so mcrd can fill an interface to its limits, a full sync included. */
export function workerSlots(limits: RuleLimits): WorkerSlots {
  return { ruleSlots: 2 * limits.maxRules + RULE_SLOT_MARGIN, outputSlots: 2 * limits.maxOutputs + OUTPUT_SLOT_MARGIN };
}

/**
 * Largest frame on a worker's command stream, both ways: a SyncRules of a
 * full interface, or the counters of one (15.5 MB at the default limit).
 */
export function workerFrameBytes(slots: WorkerSlots): number {
  return Math.max(1024 * 1024, slots.ruleSlots * FRAME_BYTES_PER_RULE_SLOT + slots.outputSlots * FRAME_BYTES_PER_OUTPUT_SLOT);
}

/** Open files a worker needs at the limits: one socket per output, twice over during a sync (80 064 at the default). */
export function workerFdsNeeded(limits: RuleLimits): number {
  return 2 * limits.maxOutputs + WORKER_BASE_FDS;
}

/** This process's soft RLIMIT_NOFILE (Node raises it to the hard limit at start), or undefined when /proc does not say. */
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m?.[1] === undefined) return undefined;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/**
 * What a rule carries on a worker's command stream, as ruleWireBytes reads
 * it: the fields of RuleSpec and of proto/common.proto's Rule.
 */
export interface WireSizedRule {
  name?: string | undefined;
  inputInterface: string;
  inputGroup: string;
  inputPort: number;
  signalTimeoutMs?: number | undefined;
  source?: string | undefined;
  excludeSources?: string | undefined;
  joinGroups?: string | undefined;
  monitor?: string | undefined;
  outputs: ReadonlyArray<{ group: string; port: number; interface: string; ttl?: number | undefined; source?: string | undefined }>;
}

/** A uint32 field at most: its one-byte tag (field numbers up to 15) and a 5-byte varint. */
const UINT_FIELD_BYTES = 6;
/** A SyncRules frame's bytes besides its rules: the length prefix, the command's seq, kind, generation and 32-byte hash. */
const SYNC_FRAME_OVERHEAD = 1024;

/** Bytes of a varint holding n (7 bits a byte). */
const varintBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field: one-byte tag, length varint, bytes (0 when unset). */
const delimited = (bytes: number | undefined): number => (bytes === undefined ? 0 : 1 + varintBytes(bytes) + bytes);
const text = (value: string | undefined): number | undefined => (value === undefined ? undefined : Buffer.byteLength(value));
/** A uint32 field whose value is known: tag and varint (counted even at 0, which proto3 leaves out). */
const uint = (value: number | undefined): number => (value === undefined ? 0 : 1 + varintBytes(value));

/**
 * An upper bound of the bytes one rule takes in a SyncRules frame (a Rule
 * inside its repeated field, proto/common.proto): every string and
 * sub-message at its length with its tag and length prefix, every number
 * the rule holds at its own length, the id (assigned later) at its
 * longest. The count is needed because a rule's source lists have no fixed length:
 * 10 000 rules with 40 full-length IPv6 sources each do not fit the frame that
 * workerFrameBytes gives a worker, which would refuse every full sync and
 * be restarted for ever. Exact sizes would need the encoder, which the
 * rule table does not load; tests/unit/rule-limits.test.ts holds this
 * bound against protobufjs's encoding.
 */
export function ruleWireBytes(rule: WireSizedRule): number {
  let body = UINT_FIELD_BYTES + uint(rule.inputPort) + uint(rule.signalTimeoutMs) + // id, port, timeout
    delimited(text(rule.name)) + delimited(text(rule.inputInterface)) + delimited(text(rule.inputGroup)) + delimited(text(rule.source)) +
    delimited(text(rule.excludeSources)) + delimited(text(rule.joinGroups)) + delimited(text(rule.monitor));
  for (const o of rule.outputs) {
    body += delimited(uint(o.port) + uint(o.ttl) + delimited(text(o.group)) + delimited(text(o.interface)) + delimited(text(o.source)));
  }
  return delimited(body);
}

/** The ruleWireBytes one input interface's rules may add up to: its full sync must fit a worker's command frame. */
export function ruleBytesLimit(limits: RuleLimits): number {
  return workerFrameBytes(workerSlots(limits)) - SYNC_FRAME_OVERHEAD;
}

/** The ENOSPC message for an interface whose rules would not fit a worker's command frame: the bound, and what to do. */
export function byteLimitAdvice(limits: RuleLimits): string {
  return `a worker takes at most ${ruleBytesLimit(limits)} bytes of rules per input interface in one command (a full sync); ` +
    'shorten long source or excludeSources lists (one prefix instead of many addresses), remove rules that are no longer needed, ' +
    `or raise daemon.maxRulesPerInterface, which raises this bound with it (mcrd --max-rules-per-interface, up to ${MAX_MAX_RULES_PER_INTERFACE}; it takes effect when mcrd starts)`;
}

/** The ENOSPC message for an interface at its limit: the number, and how to raise it. */
export function limitAdvice(limits: RuleLimits): string {
  return `the limit per input interface is ${limits.maxRules} rules and ${limits.maxOutputs} outputs ` +
    `(${OUTPUTS_PER_RULE_LIMIT} per rule on average); remove rules that are no longer needed, ` +
    `or raise daemon.maxRulesPerInterface (mcrd --max-rules-per-interface, up to ${MAX_MAX_RULES_PER_INTERFACE}; it takes effect when mcrd starts)`;
}
