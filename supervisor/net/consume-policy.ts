/**
 * `consumeInputs` at run time: keeps each rule's decision (consume its
 * input datagrams or not, supervisor/net/consume-decision.ts) up to date and
 * tells mcrd when the set of consumed rules changed, so the tc filters of
 * supervisor/net/input-filters.ts match only those rules. mcrd calls
 * rulesChanged() after every rule and interface change; in "auto" a timer
 * also re-reads /proc/net/igmp, igmp6, udp and udp6 every POLL_MS
 * (listener-tables.ts reads them), since local listeners come and go
 * without telling anyone.
 *
 * Every change of a rule's decision in "auto" is logged at info with its
 * reason (a rule's first decision included); a refresh changing more than
 * LOGGED_ONE_BY_ONE rules logs one summary line instead and each rule at
 * debug. A /proc file that cannot be read leaves every rule unconsumed in
 * "auto" (nobody can say that no one listens), logged once per outage.
 */
import type { Logger } from 'pino';
import { hostPort } from '../../common/rule-spec.js';
import type { ConsumeMatch } from './consume-program.js';
import { candidateInodes, decideConsume, indexTables, type ConsumeDecision, type ConsumeMode, type ConsumeRule, type ListenerSnapshot, type OwnGroupSockets } from './consume-decision.js';
import { parseProcIgmp, parseProcIgmp6, parseProcUdp, parseProcUdp6 } from './proc-net.js';
import { ListenerTables, NO_TEXTS, type ProcTexts, type ReadFailure } from './listener-tables.js';
import { procReader, SocketOwnerCache, type ProcReader } from './socket-owners.js';

/** How often "auto" re-reads the four /proc files, at least. */
export const POLL_MS = 2000;
/** A poll waits at least this many times what the last one took, so polling costs mcrd at most 1/COST_FACTOR of its time. */
export const COST_FACTOR = 50;
type Texts = ProcTexts | ReadFailure;
const LOGGED_ONE_BY_ONE = 16;
const SUMMARY_RULES = 10;

export interface ConsumePolicyOptions {
  mode: ConsumeMode;
  logger: Logger;
  /** The rule table's rules now. */
  rules: () => readonly (ConsumeRule & { name?: string })[];
  /** How many of mcrd's membership sockets hold a group on an interface now (supervisor/net/group-memberships.ts). */
  ownGroupSockets: OwnGroupSockets;
  /** mcrd's and its running workers' pids: their sockets are no local listeners. */
  ownPids: () => number[];
  /** Called after a timer poll changed some rule's decision (not after refresh(), whose caller acts itself). */
  onChange: () => void;
  reader?: ProcReader;
  pollMs?: number;
}

export interface RuleConsume {
  ruleId: number;
  consumed: boolean;
  reason: string;
}

function describeRule(r: ConsumeRule): string {
  return `rule ${r.id} (${r.source !== undefined ? `${r.source} -> ` : ''}${hostPort(r.inputGroup, r.inputPort)} on ${r.inputInterface})`;
}

type Decided = ConsumeDecision & { rule: ConsumeRule };

export class ConsumePolicy {
  private readonly decisions = new Map<number, Decided>();
  /**
   * Per interface, what its consumed rules match (by rule id), kept as the
   * decisions change, and the list consumeMatches() last gave for it: a
   * rule change at 10 000 rules rebuilds one interface's list from this map
   * instead of walking every decision, and an interface nothing changed on
   * keeps the same array (InputFilters then reuses its program).
   */
  private readonly consumedBy = new Map<string, Map<number, ConsumeMatch>>();
  private readonly matchLists = new Map<string, ConsumeMatch[]>();
  private readonly owners: SocketOwnerCache;
  private readonly tables: ListenerTables;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private polling = false;
  private lastPollMs: number | undefined;
  /** What the last refresh read (the UDP tables as text: a change may need other ports), and when. */
  private last: { at: number; udpText: string; udp6Text: string; groupUsers: ListenerSnapshot['groupUsers'] } | undefined;
  /** The /proc file that could not be read at the last refresh, so an outage is logged once. */
  private unreadable: string | undefined;

  constructor(private readonly o: ConsumePolicyOptions) {
    const reader: ProcReader = o.reader ?? procReader;
    this.owners = new SocketOwnerCache(reader);
    this.tables = new ListenerTables(reader);
  }

  get mode(): ConsumeMode {
    return this.o.mode;
  }

  /** Starts the poll ("auto" only); the timer does not keep mcrd alive. */
  start(): void {
    if (this.o.mode !== 'auto' || this.running) return;
    this.running = true;
    this.schedule(this.o.pollMs ?? POLL_MS);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delayMs);
    this.timer.unref();
  }

  /**
   * One poll: the four files read (listener-tables.ts: on the event loop
   * while that is quick, else through the pool, as the kernel's walk of a
   * UDP table with 10 000 sockets takes tens of ms), every rule decided
   * again, onChange() when something changed. The next poll comes after
   * POLL_MS, or COST_FACTOR times what this one took if that is longer.
   */
  private async poll(): Promise<void> {
    if (this.polling || !this.running) return;
    this.polling = true;
    const started = performance.now();
    try {
      let texts: Texts;
      try {
        texts = this.o.rules().length === 0 ? NO_TEXTS : await this.tables.readForPoll();
      } catch (err) {
        texts = err as ReadFailure;
      }
      if (!this.running) return;
      const rules = this.o.rules();
      const snapshot = this.index(rules, texts);
      const owner = snapshot !== undefined ? this.owners.lookup(candidateInodes(rules, snapshot.udpByPort), this.o.ownPids()) : () => undefined;
      if (this.decideAll(rules, rules, snapshot, owner)) this.o.onChange();
    } finally {
      this.polling = false;
      this.lastPollMs = performance.now() - started;
      if (this.running) this.schedule(Math.max(this.o.pollMs ?? POLL_MS, COST_FACTOR * this.lastPollMs));
    }
  }

  /** How long the last poll took (ms), for tests and the bench. */
  get lastPollDurationMs(): number | undefined {
    return this.lastPollMs;
  }

  /** Decides every rule again from a fresh, synchronous read of /proc; true when some rule's decision or reason changed, or a rule went. */
  refresh(): boolean {
    const rules = this.o.rules();
    let snapshot: Pick<ListenerSnapshot, 'udpByPort' | 'groupUsers'> | undefined = indexTables([], []);
    if (this.o.mode === 'auto') {
      let texts: Texts;
      try {
        texts = rules.length === 0 ? NO_TEXTS : this.tables.readNow();
      } catch (err) {
        texts = err as ReadFailure;
      }
      snapshot = this.index(rules, texts);
    }
    const owner = this.o.mode === 'auto' && snapshot !== undefined
      ? this.owners.lookup(candidateInodes(rules, snapshot.udpByPort), this.o.ownPids())
      : () => undefined;
    return this.decideAll(rules, rules, snapshot, owner);
  }

  /**
   * After a rule or interface change: decides only the rules that are new
   * or match something new, from the tables the last poll read (the UDP
   * table kept as text and parsed for the new rules' ports), so an add at
   * 10 000 rules neither re-reads nor re-parses two 10 000-line files. When
   * those tables are older than a poll, the next poll is started at once
   * and re-decides everything; with no tables yet (the first rules), the
   * same as refresh().
   */
  rulesChanged(): boolean {
    const last = this.last;
    if (this.o.mode !== 'auto' || last === undefined) return this.refresh();
    if (this.running && !this.polling && performance.now() - last.at >= (this.o.pollMs ?? POLL_MS)) this.schedule(0);
    const rules = this.o.rules();
    const fresh: Array<ConsumeRule & { name?: string }> = [];
    for (const r of rules) {
      const before = this.decisions.get(r.id);
      if (before === undefined || !sameMatch(before.rule, r)) fresh.push(r);
    }
    const ports = new Set(fresh.map((r) => r.inputPort));
    const { udpByPort } = indexTables([], [...parseProcUdp(last.udpText, undefined, ports), ...parseProcUdp6(last.udp6Text, undefined, ports)]);
    const owner = this.owners.lookup(candidateInodes(fresh, udpByPort), this.o.ownPids(), false);
    return this.decideAll(rules, fresh, { udpByPort, groupUsers: last.groupUsers }, owner);
  }

  /**
   * Decides `toDecide` (all of `rules`, or the new and changed ones), in
   * place, and forgets the rules no longer in `rules`: at 10 000 rules a
   * rule change costs a lookup per rule and allocates only for what changed.
   */
  private decideAll(rules: readonly ConsumeRule[], toDecide: readonly (ConsumeRule & { name?: string })[],
    snapshot: Pick<ListenerSnapshot, 'udpByPort' | 'groupUsers'> | undefined, owner: ListenerSnapshot['owner']): boolean {
    const changed: Array<{ rule: ConsumeRule & { name?: string }; d: ConsumeDecision }> = [];
    for (const rule of toDecide) {
      const before = this.decisions.get(rule.id);
      const d: ConsumeDecision = snapshot === undefined
        ? { consumed: false, reason: `${this.unreadable ?? '/proc/net'} cannot be read` }
        : decideConsume(rule, this.o.mode, { ...snapshot, owner });
      // A different match under the same id is a new decision too (ids are not reused today: a reload's changed rule gets a new one).
      if (before === undefined || before.consumed !== d.consumed || before.reason !== d.reason || !sameMatch(before.rule, rule)) {
        changed.push({ rule, d });
      }
      this.record(rule.id, { ...d, rule }, before);
    }
    // Rule ids are unique: more decisions than rules means some rule went.
    let removed = false;
    if (this.decisions.size > rules.length) {
      const ids = new Set(rules.map((r) => r.id));
      for (const [id, before] of this.decisions) {
        if (ids.has(id)) continue;
        this.record(id, undefined, before);
        removed = true;
      }
    }
    if (this.o.mode === 'auto') this.logChanges(changed);
    return changed.length > 0 || removed;
  }

  /** Sets (or, with undefined, forgets) a rule's decision, and keeps consumedBy in step (untouched when the consumed match stays). */
  private record(id: number, now: Decided | undefined, before: Decided | undefined): void {
    if (now === undefined) this.decisions.delete(id);
    else this.decisions.set(id, now);
    if (before !== undefined && now !== undefined && before.consumed === now.consumed && sameMatch(before.rule, now.rule)) return;
    if (before?.consumed === true) this.unconsume(before.rule.inputInterface, id);
    if (now?.consumed !== true) return;
    const r = now.rule;
    let byId = this.consumedBy.get(r.inputInterface);
    if (byId === undefined) this.consumedBy.set(r.inputInterface, byId = new Map());
    byId.set(id, { group: r.inputGroup, port: r.inputPort, ...(r.source !== undefined ? { source: r.source } : {}) });
    this.matchLists.delete(r.inputInterface);
  }

  private unconsume(iface: string, id: number): void {
    const byId = this.consumedBy.get(iface);
    if (byId?.delete(id) !== true) return;
    if (byId.size === 0) this.consumedBy.delete(iface);
    this.matchLists.delete(iface);
  }

  /** Each rule's decision, for `mcrctl list`. */
  list(): RuleConsume[] {
    return [...this.decisions].map(([ruleId, d]) => ({ ruleId, consumed: d.consumed, reason: d.reason }));
  }

  get(ruleId: number): ConsumeDecision | undefined {
    return this.decisions.get(ruleId);
  }

  /**
   * Interface → what the consumed rules match, for InputFilters.apply(). An
   * interface whose consumed rules did not change since the last call gets
   * the same array again.
   */
  consumeMatches(): Map<string, ConsumeMatch[]> {
    const out = new Map<string, ConsumeMatch[]>();
    for (const [iface, byId] of this.consumedBy) {
      let list = this.matchLists.get(iface);
      if (list === undefined) this.matchLists.set(iface, list = [...byId.values()]);
      out.set(iface, list);
    }
    return out;
  }

  /** How long the last read of the /proc files on the event loop took (ms), for tests. */
  get lastReadDurationMs(): number | undefined {
    return this.tables.lastReadDurationMs;
  }

  /** Both tables indexed, or undefined when one could not be read (logged once per outage). */
  private index(rules: readonly ConsumeRule[], texts: Texts): Pick<ListenerSnapshot, 'udpByPort' | 'groupUsers'> | undefined {
    if ('err' in texts) {
      this.last = undefined;
      if (this.unreadable !== texts.file) {
        const err = texts.err as Error & { code?: string };
        this.o.logger.warn({ code: err.code ?? 'ERR_MCR_PROC', file: texts.file, err: err.message },
          'cannot see local listeners: no rule\'s input is consumed (set daemon.consumeInputs to true to consume them anyway)');
      }
      this.unreadable = texts.file;
      return undefined;
    }
    if (this.unreadable !== undefined) this.o.logger.info({ file: this.unreadable }, 'local listeners can be seen again');
    this.unreadable = undefined;
    const ports = new Set(rules.map((r) => r.inputPort));
    const tables = indexTables([...parseProcIgmp(texts.igmp), ...parseProcIgmp6(texts.igmp6)],
      [...parseProcUdp(texts.udp, undefined, ports), ...parseProcUdp6(texts.udp6, undefined, ports)], this.o.ownGroupSockets);
    this.last = rules.length === 0 ? undefined : { at: performance.now(), udpText: texts.udp, udp6Text: texts.udp6, groupUsers: tables.groupUsers };
    return tables;
  }

  private logChanges(changed: Array<{ rule: ConsumeRule & { name?: string }; d: ConsumeDecision }>): void {
    const level = changed.length > LOGGED_ONE_BY_ONE ? 'debug' : 'info';
    for (const { rule, d } of changed) {
      this.o.logger[level]({ rule: rule.id, ...(rule.name !== undefined && rule.name !== '' ? { name: rule.name } : {}), interface: rule.inputInterface,
        group: rule.inputGroup, port: rule.inputPort, consumed: d.consumed, reason: d.reason, ...(d.listener ?? {}) },
      `${describeRule(rule)}: ${d.reason} -> ${d.consumed ? 'consuming' : 'not consuming'}`);
    }
    if (level === 'debug') {
      const consumed = changed.filter((c) => c.d.consumed);
      this.o.logger.info({ changed: changed.length, consuming: consumed.length, notConsuming: changed.length - consumed.length,
        rules: changed.slice(0, SUMMARY_RULES).map((c) => c.rule.id) }, 'consume decisions changed');
    }
  }
}

function sameMatch(a: ConsumeRule, b: ConsumeRule): boolean {
  return a === b || a.inputInterface === b.inputInterface && a.inputGroup === b.inputGroup && a.inputPort === b.inputPort && a.source === b.source;
}
