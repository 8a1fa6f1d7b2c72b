/**
 * `--consume-inputs`: per input interface, one tc ingress filter (clsact
 * qdisc, cls_bpf in direct-action mode, preference CONSUME_PREF) running
 * the program of supervisor/net/consume-program.ts for that interface's
 * rules, so the datagrams MCR relays stop at the interface instead of also
 * climbing the host's IP stack. Installed and replaced with iproute2's `tc`
 * as the rules and interfaces change, removed when mcrd stops; a filter left
 * by an mcrd that was killed is removed when the next one starts.
 *
 * mcrd removes what it created: the clsact qdisc goes with mcrd's filter
 * when mcrd added it, or found it holding nothing but a filter an earlier
 * mcrd left, and only if nothing else is on it then. A clsact qdisc with
 * anyone else's filters is never removed.
 *
 * Changes are applied one at a time, in order, by an internal queue; apply()
 * only records what is wanted. A failure is logged with its code and does
 * not stop the relay: the host then simply keeps receiving its own copy.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { buildConsumeProgram, consumeMatchKey, formatBytecode, MAX_PROGRAM_INSNS, normaliseMatches, type ConsumeMatch } from './consume-program.js';

/**
 * tc filter preference of MCR's filter on every interface ("MC" in ASCII),
 * documented in docs/mcrd.md. Not in the range tc assigns by itself (49152
 * and down), so a filter added without a preference never lands on it.
 */
export const CONSUME_PREF = 0x4d43;
const TC_TIMEOUT_MS = 5000;

export interface TcResult {
  ok: boolean;
  stdout: string;
  /** Error code when not ok: ENOENT (no tc), ETIMEDOUT, or ERR_MCR_TC (tc refused; see stderr). */
  code?: string;
  stderr: string;
}

export type TcRunner = (args: string[]) => Promise<TcResult>;

/** Runs the system's `tc` with a time limit. */
export const runTc: TcRunner = (args) => new Promise((resolve) => {
  execFile('tc', args, { timeout: TC_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
    if (err === null) { resolve({ ok: true, stdout, stderr }); return; }
    const e = err as NodeJS.ErrnoException & { killed?: boolean };
    const code = e.code === 'ENOENT' ? 'ENOENT' : e.killed === true ? 'ETIMEDOUT' : 'ERR_MCR_TC';
    resolve({ ok: false, code, stdout, stderr: (stderr || e.message).trim() });
  });
});

/** Interface → what its rules match, for the rules that relay from it. */
export function consumeMatchesByInterface(
  rules: ReadonlyArray<{ inputInterface: string; inputGroup: string; inputPort: number; source?: string }>,
): Map<string, ConsumeMatch[]> {
  const out = new Map<string, ConsumeMatch[]>();
  for (const r of rules) {
    const list = out.get(r.inputInterface) ?? [];
    list.push({ group: r.inputGroup, port: r.inputPort, ...(r.source !== undefined ? { source: r.source } : {}) });
    out.set(r.inputInterface, list);
  }
  return out;
}

/** Each match takes at least 5 instructions (load and compare group and port, drop) after a 16-instruction header and before the final return. */
const CERTAINLY_TOO_MANY = Math.floor((MAX_PROGRAM_INSNS - 17) / 5);

/** Whether the list holds more than CERTAINLY_TOO_MANY distinct matches; stops counting there (a few hundred keys, not 10 000). */
function certainlyTooMany(list: readonly ConsumeMatch[]): boolean {
  if (list.length <= CERTAINLY_TOO_MANY) return false;
  const seen = new Set<string>();
  for (const m of list) {
    seen.add(consumeMatchKey(m));
    if (seen.size > CERTAINLY_TOO_MANY) return true;
  }
  return false;
}

/** What apply() made of one interface's list: its program's bytecode, or undefined when no program fits. */
interface Built { list: readonly ConsumeMatch[]; bytecode: string | undefined }

/**
 * The interfaces as they are now: the index of the one called `name`, and
 * the name of the one with index `ifindex` (undefined: there is none).
 * Filters belong to a device, not a name: a device renamed takes its
 * filter along, one deleted takes it away, one created under an old name
 * has none.
 */
export interface Links {
  index(name: string): number | undefined;
  nameOf(ifindex: number): string | undefined;
}

interface Installed {
  bytecode: string;
  /** The device it was installed on. */
  ifindex: number;
  /** The clsact qdisc was not there before us: remove it again when our filter goes, if nothing else uses it. */
  addedQdisc: boolean;
}

export class InputFilters {
  private readonly installed = new Map<string, Installed>();
  private wanted = new Map<string, string>();
  /** Per interface, the last list given and what it made: the same array again (ConsumePolicy keeps it when nothing changed) is not rebuilt. */
  private built = new Map<string, Built>();
  /** Interfaces over the program limit at the last apply: reported once when they go over, not on every rule change. */
  private overLimit = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  /** Interfaces whose last install failed, with the error code. */
  private readonly failed = new Map<string, string>();
  /** `tc` was missing once: said at error then, at debug after (the default "auto" tries at every rule change). */
  private noTcSaid = false;
  /** close() was called: mcrd is stopping, and a filter installed now would outlive it. */
  private closed = false;
  /** The interfaces as the last apply() saw them (install() records the device it installs on). */
  private links: Links = { index: () => undefined, nameOf: () => undefined };

  constructor(
    private readonly logger: Logger,
    private readonly tc: TcRunner = runTc,
  ) {}

  /**
   * Wants exactly these filters: interfaces that exist (per `links`) and
   * have matches get theirs, every other filter of ours goes. Returns the
   * promise of this change being applied (never rejects). After close() it
   * does nothing: a request still in progress while mcrd stops (its
   * control socket closes last) would otherwise install a filter again
   * after they were removed, and leave it behind when mcrd exits.
   */
  apply(matches: Map<string, ConsumeMatch[]>, links: Links): Promise<void> {
    if (this.closed) return this.queue;
    this.links = links;
    const exists = (iface: string): boolean => links.index(iface) !== undefined;
    const wanted = new Map<string, string>();
    const overLimit = new Set<string>();
    const built = new Map<string, Built>();
    for (const [iface, list] of matches) {
      if (list.length === 0 || !exists(iface)) continue;
      let made = this.built.get(iface);
      if (made?.list !== list) {
        // Past CERTAINLY_TOO_MANY distinct matches no program fits: not building one
        // keeps a rule change at 10 000 rules from costing ~100 ms here.
        const program = certainlyTooMany(list) ? undefined : buildConsumeProgram(list);
        made = { list, bytecode: program === undefined || program.length > MAX_PROGRAM_INSNS ? undefined : formatBytecode(program) };
      }
      built.set(iface, made);
      if (made.bytecode === undefined) {
        overLimit.add(iface);
        if (!this.overLimit.has(iface)) {
          this.logger.error({ code: 'ERR_MCR_CONSUME_TOO_MANY', interface: iface, rules: normaliseMatches(list).length },
            'too many distinct rule matches on this interface for one consume filter: the host keeps receiving them (use fewer rules, or run without --consume-inputs)');
        }
        continue;
      }
      if (this.overLimit.has(iface)) {
        this.logger.info({ interface: iface, rules: normaliseMatches(list).length }, 'the rule matches fit one consume filter again');
      }
      wanted.set(iface, made.bytecode);
    }
    this.built = built;
    this.overLimit = overLimit;
    this.wanted = wanted;
    for (const iface of [...this.failed.keys()]) if (!wanted.has(iface)) this.failed.delete(iface);
    return this.enqueue(() => this.reconcile());
  }

  /**
   * Removes the consume filters an earlier mcrd left on these interfaces
   * (killed before it could): a cls_bpf direct-action filter at
   * CONSUME_PREF. mcrd calls this at every start, with or without
   * --consume-inputs, so a crash never leaves the host deaf to a stream.
   */
  removeStale(interfaces: readonly string[]): Promise<void> {
    return this.enqueue(async () => {
      for (const iface of interfaces) {
        if (this.installed.has(iface)) continue;
        const shown = await this.tc(['filter', 'show', 'dev', iface, 'ingress', 'pref', String(CONSUME_PREF)]);
        if (!shown.ok || !/\bbpf\b[\s\S]*\bdirect-action\b/.test(shown.stdout)) continue;
        const r = await this.tc(['filter', 'del', 'dev', iface, 'ingress', 'pref', String(CONSUME_PREF)]);
        if (!r.ok) { this.fail(iface, r, 'removing a consume filter left by an earlier mcrd'); continue; }
        this.logger.warn({ interface: iface, pref: CONSUME_PREF }, 'removed a consume filter left by an earlier mcrd');
        // Empty now means it held only that filter: the earlier mcrd's qdisc
        // (or one it shared with nobody), so it goes too.
        if (await this.clsactIsEmpty(iface)) await this.removeQdisc(iface, 'removed the clsact qdisc that held only the consume filter left by an earlier mcrd');
      }
    });
  }

  /**
   * Why the interface's wanted filter is not in place, or undefined: too
   * many matches for one program, or the last install failed (its code).
   * For `mcrctl list`, next to each rule's decision.
   */
  problem(iface: string): string | undefined {
    if (this.overLimit.has(iface)) return `too many rule matches on ${iface} for one consume filter`;
    const code = this.failed.get(iface);
    return code !== undefined ? `installing the consume filter on ${iface} failed (${code})` : undefined;
  }

  /** Removes every filter this instance installed (and the qdiscs it added); apply() does nothing after it. */
  close(): Promise<void> {
    this.closed = true;
    this.wanted = new Map();
    return this.enqueue(() => this.reconcile());
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job).catch((err: Error) => {
      this.logger.error({ code: 'ERR_MCR_TC', err: err.message }, 'updating consume filters failed');
    });
    return this.queue;
  }

  private async reconcile(): Promise<void> {
    this.followDevices();
    for (const [iface, have] of [...this.installed]) {
      if (!this.wanted.has(iface)) await this.remove(iface, have);
    }
    for (const [iface, bytecode] of this.wanted) {
      if (this.installed.get(iface)?.bytecode !== bytecode) await this.install(iface, bytecode);
    }
  }

  /**
   * Each filter stays with its device: under the device's name now (a
   * rename, which reconcile then replaces or removes there), or gone with
   * it (deleted: also when a new device took its old name, which has no
   * filter yet and gets one). Run in the queue, first in every reconcile,
   * so an install that was in progress during a rename is followed too.
   */
  private followDevices(): void {
    const moved = new Map<string, Installed>();
    for (const [iface, have] of this.installed) {
      const now = this.links.nameOf(have.ifindex);
      if (now === undefined) continue;
      if (now !== iface) this.logger.info({ interface: now, was: iface, ifindex: have.ifindex }, 'consume filter went with its renamed interface');
      moved.set(now, have);
    }
    this.installed.clear();
    for (const [iface, have] of moved) this.installed.set(iface, have);
  }

  private async install(iface: string, bytecode: string): Promise<void> {
    // The device the filter goes on, by its index as of the last apply (a
    // change of it since queues another apply, which sets this right).
    const ifindex = this.links.index(iface);
    if (ifindex === undefined) return;
    let addedQdisc = this.installed.get(iface)?.addedQdisc;
    if (addedQdisc === undefined) {
      const shown = await this.tc(['qdisc', 'show', 'dev', iface]);
      const had = shown.ok && /^qdisc clsact /m.test(shown.stdout);
      // A clsact holding only a consume filter an earlier mcrd left (one
      // removeStale could not remove) is ours to remove as well.
      const inherited = had && (await this.clsactFilters(iface)) === 'only-ours';
      // replace: adds clsact, or leaves an existing one (and its filters) as it is.
      const made = await this.tc(['qdisc', 'replace', 'dev', iface, 'clsact']);
      if (!made.ok) { this.failed.set(iface, made.code ?? 'ERR_MCR_TC'); this.fail(iface, made, 'adding the clsact qdisc'); return; }
      addedQdisc = !had || inherited;
    }
    const r = await this.tc(['filter', 'replace', 'dev', iface, 'ingress', 'pref', String(CONSUME_PREF), 'handle', '1',
      'bpf', 'da', 'bytecode', bytecode]);
    if (!r.ok) {
      this.failed.set(iface, r.code ?? 'ERR_MCR_TC');
      this.fail(iface, r, 'installing the consume filter');
      // Leave nothing of ours: an older program this one was to replace, and the qdisc if we added it.
      this.installed.delete(iface);
      await this.tc(['filter', 'del', 'dev', iface, 'ingress', 'pref', String(CONSUME_PREF)]);
      if (addedQdisc && await this.clsactIsEmpty(iface)) await this.removeQdisc(iface, 'removed the clsact qdisc mcrd added');
      return;
    }
    this.installed.set(iface, { bytecode, ifindex, addedQdisc });
    this.failed.delete(iface);
    this.logger.info({ interface: iface, pref: CONSUME_PREF, insns: Number(bytecode.split(',')[0]) },
      'consume filter installed: relayed datagrams stop at this interface');
  }

  private async remove(iface: string, have: Installed): Promise<void> {
    this.installed.delete(iface);
    const r = await this.tc(['filter', 'del', 'dev', iface, 'ingress', 'pref', String(CONSUME_PREF)]);
    if (!r.ok) this.fail(iface, r, 'removing the consume filter');
    else this.logger.info({ interface: iface }, 'consume filter removed');
    if (have.addedQdisc && await this.clsactIsEmpty(iface)) await this.removeQdisc(iface, 'removed the clsact qdisc mcrd added');
  }

  /** Someone else's filters keep the qdisc: only an empty one is removed. */
  private async clsactIsEmpty(iface: string): Promise<boolean> {
    return (await this.clsactFilters(iface)) === 'empty';
  }

  /**
   * What the clsact qdisc holds: no filter, only filters at CONSUME_PREF
   * (mcrd's), or anything else ('others', also when tc cannot tell, so
   * that doubt keeps the qdisc).
   */
  private async clsactFilters(iface: string): Promise<'empty' | 'only-ours' | 'others'> {
    const ingress = await this.tc(['filter', 'show', 'dev', iface, 'ingress']);
    const egress = await this.tc(['filter', 'show', 'dev', iface, 'egress']);
    if (!ingress.ok || !egress.ok || egress.stdout.trim() !== '') return 'others';
    // tc prints each filter as lines starting with "filter ... pref N ...",
    // continued by indented action and statistics lines.
    const heads = ingress.stdout.split('\n').filter((l) => l.startsWith('filter '));
    if (heads.length === 0) return ingress.stdout.trim() === '' ? 'empty' : 'others';
    const ours = new RegExp(`\\bpref ${CONSUME_PREF}\\b`);
    return heads.every((l) => ours.test(l)) ? 'only-ours' : 'others';
  }

  private async removeQdisc(iface: string, what: string): Promise<void> {
    const r = await this.tc(['qdisc', 'del', 'dev', iface, 'clsact']);
    if (r.ok) this.logger.info({ interface: iface }, what);
    else this.logger.warn({ code: r.code ?? 'ERR_MCR_TC', interface: iface, err: r.stderr },
      `removing the clsact qdisc failed: it stays, empty; remove it with \`tc qdisc del dev ${iface} clsact\``);
  }

  private fail(iface: string, r: TcResult, what: string): void {
    const hint = r.code === 'ENOENT' ? 'install iproute2 (tc)' : 'check that the kernel has clsact and cls_bpf (CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_BPF)';
    const level = r.code === 'ENOENT' && this.noTcSaid ? 'debug' : 'error';
    if (r.code === 'ENOENT') this.noTcSaid = true;
    this.logger[level]({ code: r.code ?? 'ERR_MCR_TC', interface: iface, err: r.stderr },
      `${what} failed: the host keeps receiving the relayed datagrams (${hint})`);
  }
}
