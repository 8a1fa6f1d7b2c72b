/**
 * Applies the supervisor's worker commands (proto/worker.proto) to a Relay
 * and builds the replies. The supervisor owns rule ids and the rule table's
 * generation and hash; the worker installs rules under the supervisor's ids
 * and echoes the generation and hash of the table it actually holds, so the
 * supervisor can detect drift. A failed command leaves the table unchanged.
 * A rule the relay cannot build (an output socket the kernel refuses) is
 * still part of the table, recorded as refused and reported on every reply;
 * it never stops the other rules.
 */
import type { Logger, LevelWithSilent } from 'pino';
import type { Relay, RuleStats as RelayRuleStats } from './relay.js';
import { errorsByErrno } from './counters.js';
import { LOG_LEVELS } from '../common/logger.js';
import type { Command, ErrorInfo, LoopState, MonitorStats, Reply, Rule, RuleArrivals, RuleRefusal, RuleStats, WorkerCounters } from '../proto/index.js';
import type { RuleSpec } from '../common/rule-spec.js';

/** What the worker does after replying: go on, exit 0, or exit 1 (mcrd restarts it). */
export type AfterReply = 'continue' | 'exit' | 'fail';


function num(v: number | string | boolean | undefined): number {
  return typeof v === 'number' ? v : 0;
}

export class CommandHandler {
  private generation = 0;
  private hash: Uint8Array = new Uint8Array();
  /**
   * Rules of the table mcrd gave this worker that the relay could not
   * build, by supervisor id. The relay uses the supervisor's ids as its own,
   * so its log lines name rules as mcrctl does.
   */
  private readonly refused = new Map<number, ErrorInfo>();

  constructor(
    private readonly relay: Relay,
    private readonly logger: Logger,
  ) {}

  /**
   * A full sync builds the new set while the old one still holds its
   * sockets, so near the open files limit it refuses rules with EMFILE
   * that fit once the old set is gone (a reload that removes rules is the
   * usual way to make room). Those are tried again one by one, in order,
   * after the swap; the first that still fails ends the retry (the rest
   * would fail the same way) and keeps its new error.
   */
  private async retryOutOfFiles(rules: ReadonlyArray<Parameters<Relay['addRule']>[0] & { id: number }>, refused: ReadonlyArray<{ id: number; error: Error & { code?: string } }>): Promise<void> {
    const outOfFiles = refused.filter((f) => f.error.code === 'EMFILE' || f.error.code === 'ENFILE');
    if (outOfFiles.length === 0) return;
    const specs = new Map(rules.map((r) => [r.id, r]));
    let applied = 0;
    for (const f of outOfFiles) {
      const spec = specs.get(f.id);
      if (spec === undefined) continue;
      try {
        await this.relay.addRule(spec, f.id);
        this.refused.delete(f.id);
        applied++;
      } catch (err) {
        this.refused.set(f.id, errorInfo(err as Error & { code?: string }));
        break;
      }
    }
    this.logger.info({ retried: outOfFiles.length, applied, stillRefused: outOfFiles.length - applied },
      'rules refused for lack of descriptors during the sync tried again after the old set was released');
  }

  async handle(command: Command): Promise<{ reply: Reply; after: AfterReply }> {
    const body = command.body;
    let after: AfterReply = 'continue';
    let stats: WorkerCounters | undefined;
    let arrivals: RuleArrivals | undefined;
    let loop: LoopState | undefined;
    let failure: (Error & { code?: string }) | undefined;
    try {
      switch (body.kind) {
        case 'syncRules': {
          const { refused } = await this.relay.replaceRules(body.rules.map(asSpec), body.rules.map((r) => r.id));
          this.refused.clear();
          for (const f of refused) this.refused.set(f.id, errorInfo(f.error));
          await this.retryOutOfFiles(body.rules.map((r) => ({ ...asSpec(r), id: r.id })), refused);
          this.commit(body.generation, body.hash);
          break;
        }
        case 'addRule': {
          const id = body.rule.id;
          if (this.holds(id)) throw coded('EEXIST', `rule ${id} is already installed`);
          try {
            await this.relay.addRule(asSpec(body.rule), id);
          } catch (err) {
            // The rule is part of the table all the same: mcrd reports the
            // refusal, and the next sync tries it again.
            this.refused.set(id, errorInfo(err as Error & { code?: string }));
            this.logger.error({ rule: id, name: body.rule.name, code: (err as { code?: string }).code, err: (err as Error).message },
              'rule refused: it is not forwarded; the other rules are');
          }
          this.commit(body.generation, body.hash);
          break;
        }
        case 'removeRule': {
          if (this.refused.delete(body.id)) {
            this.commit(body.generation, body.hash);
            break;
          }
          if (!this.relay.hasRule(body.id)) throw coded('ENOENT', `rule ${body.id} is not installed in this worker`);
          await this.relay.removeRule(body.id);
          this.commit(body.generation, body.hash);
          break;
        }
        case 'setLogLevel':
          if (!LOG_LEVELS.includes(body.level as LevelWithSilent)) {
            throw coded('ERR_MCR_BAD_LEVEL', `unknown log level "${body.level}": use one of ${LOG_LEVELS.join(', ')}`);
          }
          this.logger.level = body.level;
          break;
        case 'stop': {
          const final = await this.relay.stop();
          this.logger.info({ counters: final.loop }, 'worker stopped: final counters');
          after = 'exit';
          break;
        }
        case 'ping':
          if (body.stats === true) stats = this.counters();
          if (body.arrivals === true) arrivals = this.relay.arrivals();
          if (body.loop === true) loop = this.relay.loopState();
          break;
      }
    } catch (err) {
      failure = err as Error & { code?: string };
    }
    // A deferred packet socket (mcrd's workers) starts receiving after the
    // first sync, before its reply: the fan-out group gives this worker its
    // flows only once it has its rules, and by the time mcrd marks it
    // running it receives. Also after a sync refused as a whole: the worker
    // then runs with no rules, as mcrd reports, rather than leave its share
    // of the flows nowhere.
    if (body.kind === 'syncRules' && this.relay.awaitingActivation) {
      try {
        this.relay.activate();
      } catch (err) {
        const e = err as Error & { code?: string };
        this.logger.fatal({ code: e.code, err: e.message }, 'packet socket not activated: the worker exits and mcrd restarts it');
        failure = Object.assign(new Error(`packet socket not activated (${e.message}): the worker exits and is restarted`),
          { code: e.code ?? 'ERR_MCR_INTERNAL' });
        after = 'fail';
      }
    }
    if (failure !== undefined) {
      return {
        reply: { seq: command.seq, generation: this.generation, hash: this.hash,
          error: { code: failure.code ?? 'ERR_MCR_INTERNAL', message: failure.message }, refused: this.refusals() },
        after,
      };
    }
    const reply: Reply = { seq: command.seq, generation: this.generation, hash: this.hash, refused: this.refusals() };
    if (stats !== undefined) reply.stats = stats;
    if (arrivals !== undefined) reply.arrivals = arrivals;
    if (loop !== undefined) reply.loop = loop;
    return { reply, after };
  }

  /**
   * The answer to a command that did not decode (fleet-worker.ts): an error
   * for its seq, with what this worker holds, as every reply says, so mcrd
   * keeps an accurate view of it (an empty hash and no refusals would read
   * as a worker that dropped its rules and applied the ones it refused).
   */
  undecodable(seq: number, error: { code: string; message: string }): Reply {
    return { seq, generation: this.generation, hash: this.hash, refused: this.refusals(), error };
  }

  private holds(id: number): boolean {
    return this.refused.has(id) || this.relay.hasRule(id);
  }

  private refusals(): RuleRefusal[] {
    return [...this.refused].map(([ruleId, error]) => ({ ruleId, error }));
  }

  private commit(generation: number, hash: Uint8Array): void {
    this.generation = generation;
    this.hash = hash;
  }

  /** The worker's counters, rules keyed by supervisor id (the relay's ids are the supervisor's). */
  counters(): WorkerCounters {
    const { loop, rules } = this.relay.stats();
    const malformed = Object.entries(loop)
      .filter(([name]) => name.startsWith('drop_'))
      .reduce((sum, [, v]) => sum + v, 0);
    const ruleStats: RuleStats[] = rules.map((r: RelayRuleStats) => {
      const outputs = r.outputs.map((o) => ({ packets: num(o.packets), bytes: num(o.bytes), errors: num(o.errors),
        errorsByErrno: errorsByErrno(o) }));
      const stats: RuleStats = { ruleId: r.id, packets: r.packets, bytes: r.bytes, errors: outputs.reduce((sum, o) => sum + o.errors, 0), outputs,
        lastRxMs: r.lastRxMs };
      if (r.monitor !== undefined) stats.monitor = monitorStats(r.monitor);
      return stats;
    });
    return { received: loop.frames ?? 0, kernelDrops: loop.kernel_drops ?? 0, malformed,
      unmatched: loop.no_rule ?? 0, rules: ruleStats, loop: { ...loop }, pid: process.pid };
  }
}

/** The 90 kHz RTP clock the loop computes jitter in (native/core/stream_monitor.h, kRtpClockRate). */
const RTP_CLOCK_HZ = 90_000;

/** A rule's monitor columns (counters.h rtp_*, ts_*) as the wire's MonitorStats. */
function monitorStats(c: Record<string, number>): MonitorStats {
  return {
    rtpLost: c.rtp_lost ?? 0, rtpDuplicates: c.rtp_duplicates ?? 0, rtpReordered: c.rtp_reordered ?? 0,
    rtpSsrcChanges: c.rtp_ssrc_changes ?? 0, rtpInvalid: c.rtp_invalid ?? 0,
    rtpJitterUs: ((c.rtp_jitter ?? 0) * 1e6) / RTP_CLOCK_HZ,
    tsSyncByteErrors: c.ts_sync_byte_errors ?? 0, tsSyncLosses: c.ts_sync_losses ?? 0,
    tsCcErrors: c.ts_cc_errors ?? 0, tsPidOverflow: c.ts_pid_overflow ?? 0,
  };
}

/**
 * A rule from mcrd as the relay takes it. mcrd validated it (checkRule); the
 * wire types `monitor` as any string, and the addon refuses a mode it does
 * not know (ERR_MCR_INVALID_ARG), per rule, so no second check here.
 */
function asSpec(rule: Rule): RuleSpec {
  return rule as RuleSpec;
}

function errorInfo(err: Error & { code?: string }): ErrorInfo {
  return { code: err.code ?? 'ERR_MCR_INTERNAL', message: err.message };
}

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
