/**
 * mcrd's answers to control requests: rule changes go to the rule table
 * first (the source of truth), then to the interface's workers; stats and
 * worker lists come from the fleet (stats/ keeps mcrd's own counters, which
 * never go backwards for a rule's life, and computes rates); logs from the
 * captured worker lines; reload, save and check go through the config
 * loader. `clear` zeroes counters on purpose and says so in the log.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, formatConfig, loadConfig, parseConfig, type ConfigRule, type DaemonSettings } from './config/index.js';
import { daemonChanges } from './config/daemon-diff.js';
import { overlapWarnings, ruleWarnings } from './rule-warnings.js';
import { writeConfigFile } from './config/write-file.js';
import { RuleTable, RuleTableError, checkRule, matchKey } from './rule-table.js';
import { ruleDiff } from './rule-diff.js';
import { addressFamily, hostPort } from '../common/rule-spec.js';
import { errorCode } from '../common/control-errors.js';
import type { Fleet } from './fleet/fleet.js';
import { LEVEL_VALUES, levelValue, type WorkerLogs } from './worker-logs.js';
import { CONTROL_PROTOCOL, type LogsResult, type Rule, type RuleApplication, type RuleChange, type OutputInterfaceStats, type StatsResult } from '../proto/index.js';
import type { ControlHandler } from './control/handler.js';
import { StatsReport } from './stats/stats-report.js';
import { addStreamHealth, ruleStreams } from './health/stream-stats.js';
import type { StreamWatch } from './health/stream-watch.js';
import type { EventLog } from './events/event-log.js';
import { reloadApplied, reloadRefused, ruleAdded, ruleRemoved } from './events/rule-events.js';

export interface DaemonState {
  table: RuleTable;
  fleet: Fleet;
  logs: WorkerLogs;
  /** mcrd's event log (supervisor/events/): rule changes and reloads are recorded here. */
  events: EventLog;
  logger: Logger;
  /** Brings the supervisor's input group memberships (and, with --consume-inputs, its input filters) in line with the rule table. */
  syncInputs: () => void;
  configFile: string | undefined;
  /** The config file's daemon section as mcrd started with it: a reload names what differs from it (it applies only at the next start). */
  startDaemon?: Partial<DaemonSettings>;
  version: string;
  startedAtMs: number;
  /** What this host knows of an interface right now (netlink), or undefined when it does not exist. */
  interfaceState?: (name: string) => { up: boolean; running?: boolean; addresses: string[] } | undefined;
  /**
   * What the kernel dropped after the sends on each named output interface
   * (net/output-drops.ts), for the stats answer; absent: none given.
   */
  outputDrops?: (names: string[]) => Promise<OutputInterfaceStats[]>;
  /** Whether each rule's input is consumed (net/consume-policy.ts); without it list carries no consume decisions. */
  consume?: { mode: 'auto' | boolean; list(): Array<{ ruleId: number; consumed: boolean; reason: string }> };
  /** Loss of signal per rule (health/stream-watch.ts); without it stats and list carry no stream state. */
  stream?: StreamWatch;
  /**
   * True once mcrd has begun to stop: rule changes and reloads are refused
   * (ESHUTDOWN) from then on, since the workers, memberships and consume
   * filters they would change are being taken down (the control socket
   * closes last). Absent: never.
   */
  stopping?: () => boolean;
  /**
   * Called after `mcrctl clear` zeroed counters, with what it cleared and who
   * asked (the one place to hook a "counters cleared" event).
   */
  countersCleared?: (cleared: CountersCleared) => void;
}

/** What a clear zeroed, and who asked. */
export interface CountersCleared {
  ruleIds: number[];
  inputs: string[];
  /** True for a clear of everything (no rule named). */
  all: boolean;
  /** As the client says (ClearRequest.caller), and its connection number. */
  caller: string;
  client: number;
}

const DEFAULT_LOG_LINES = 100;

/**
 * Marks each output whose interface is up without carrier (OutputStats.no_carrier):
 * what it sends is dropped by the device and mostly counted as sent.
 */
function markNoCarrier(result: StatsResult, rules: readonly Rule[], state: DaemonState['interfaceState']): StatsResult {
  if (state === undefined) return result;
  const byId = new Map(rules.map((r) => [r.id, r]));
  for (const s of result.rules) {
    const rule = byId.get(s.ruleId);
    s.outputs.forEach((o, i) => {
      const iface = rule?.outputs[i]?.interface;
      const link = iface !== undefined ? state(iface) : undefined;
      if (link?.up === true && link.running === false) o.noCarrier = true;
    });
  }
  return result;
}

/**
 * An interactive add names interfaces that must exist now: a typo should
 * fail at once, not leave a rule that waits forever. (A config file may
 * name interfaces that appear later: its rules wait for them, docs/mcrd.md.)
 * An output also needs an address of its group's family to send from,
 * unless it names its own source: IPv4, or for an IPv6 output any IPv6
 * address (a link-local one will do: the kernel picks the source per send,
 * native/core/egress_socket6.cc).
 */
function checkInterfaces(rule: Omit<Rule, 'id'>, state: DaemonState['interfaceState']): void {
  if (state === undefined) return;
  const missing = (name: string): never => {
    // mcrctl adds what to do for ENODEV (check the name with `ip link`).
    throw new RuleTableError('ENODEV', `interface ${name} does not exist on this host`);
  };
  if (state(rule.inputInterface) === undefined) missing(rule.inputInterface);
  for (const out of rule.outputs) {
    const st = state(out.interface);
    if (st === undefined) missing(out.interface);
    const family = addressFamily(out.group);
    if (out.source === undefined && st !== undefined && !st.addresses.some((a) => addressFamily(a) === family)) {
      // mcrctl adds what to do for EADDRNOTAVAIL.
      throw new RuleTableError('EADDRNOTAVAIL', family === 6
        ? `output interface ${out.interface} has no IPv6 address to send from (is IPv6 disabled on it? net.ipv6.conf.${out.interface}.disable_ipv6)`
        : `output interface ${out.interface} has no IPv4 address to send from`);
    }
  }
}

function describeRule(r: Omit<Rule, 'id'>): string {
  return `${r.inputInterface} ${hostPort(r.inputGroup, r.inputPort)}${r.source !== undefined ? ` from ${r.source}` : ''}`;
}

function named(r: Pick<Rule, 'name'>): { name?: string } {
  return r.name !== undefined ? { name: r.name } : {};
}

export function createHandler(d: DaemonState): ControlHandler {
  const stats = new StatsReport();
  const refuseWhileStopping = (what: string): void => {
    if (d.stopping?.() === true) {
      throw new RuleTableError('ESHUTDOWN', `mcrd is stopping: ${what} refused, nothing changed; make it again once mcrd runs (\`systemctl start mcrd\`), or put it in the config file it starts from`);
    }
  };
  const removeAndSync = async (rule: Rule): Promise<void> => {
    if (d.table.forInterface(rule.inputInterface).length === 0) await d.fleet.reconcile();
    else await d.fleet.broadcast(rule.inputInterface, { kind: 'removeRule', generation: d.table.generation, hash: d.table.hashFor(rule.inputInterface), id: rule.id });
  };
  const addAndSync = async (rule: Rule): Promise<void> => {
    if (d.table.forInterface(rule.inputInterface).length === 1) await d.fleet.reconcile();
    else await d.fleet.broadcast(rule.inputInterface, { kind: 'addRule', generation: d.table.generation, hash: d.table.hashFor(rule.inputInterface), rule });
  };
  /** Rules some worker refused or did not confirm, as far as the workers' last answers tell. */
  const problems = (): RuleApplication[] => d.table.list()
    .map((r) => d.fleet.application(r.id, r.inputInterface))
    .filter((a) => a.refused.length > 0 || a.unconfirmed.length > 0);
  const configPath = (file: string | undefined): string => {
    const path = file ?? d.configFile;
    if (path === undefined || path === '') throw new RuleTableError('ERR_MCR_NO_CONFIG', 'mcrd was started without --config: name a file');
    return path;
  };

  /**
   * The rule table holds no daemon settings, so a save keeps the ones the
   * file it replaces has (edited since mcrd started, perhaps), and writes
   * those mcrd started with to a new file or over one that does not load:
   * a save of the rules must not drop the service's settings.
   */
  const daemonToSave = (path: string): Partial<DaemonSettings> => {
    if (existsSync(path)) {
      try {
        return loadConfig(path, { maxRulesPerInterface: d.table.limits.maxRules }).daemon;
      } catch (err) {
        d.logger.warn({ file: path, code: errorCode(err), err: (err as Error).message },
          'save: the file being replaced does not load; writing the daemon settings mcrd started with');
      }
    }
    return d.startDaemon ?? {};
  };

  return {
    async addRule({ rule: input }) {
      refuseWhileStopping('the rule change');
      // Validated before the interfaces are looked up, so a malformed name
      // is refused as such (ERR_MCR_BAD_RULE), not as a missing interface.
      const checked = checkRule(input);
      checkInterfaces(checked, d.interfaceState);
      const rule = d.table.add(checked);
      const warnings = [...overlapWarnings(rule, d.table), ...ruleWarnings(rule)];
      d.logger.info({ rule: rule.id, name: rule.name, match: describeRule(rule) }, 'rule added');
      ruleAdded(d.events, rule, 'control');
      for (const w of warnings) d.logger.warn({ rule: rule.id, name: rule.name }, w);
      // Joined before the workers have the rule, so its first datagrams are already delivered.
      d.syncInputs();
      await addAndSync(rule);
      const application = d.fleet.application(rule.id, rule.inputInterface);
      if (application.refused.length > 0 || application.unconfirmed.length > 0) {
        d.logger.warn({ rule: rule.id, refused: application.refused.map((r) => `${r.worker}: ${r.error.code}`), unconfirmed: application.unconfirmed },
          'rule added to the table but not applied by every worker');
      }
      return { rule, application, warnings };
    },
    async removeRule({ id, name }) {
      refuseWhileStopping('the rule change');
      if ((id === undefined || id === 0) === (name === undefined || name === '')) {
        throw new RuleTableError('ERR_MCR_BAD_REQUEST', 'give exactly one of id or name');
      }
      const target = id !== undefined && id !== 0 ? d.table.get(id) : d.table.byName(name ?? '');
      if (target === undefined) throw new RuleTableError('ENOENT', `no rule ${id ?? `named "${name}"`}: see \`mcrctl list\``);
      const rule = d.table.remove(target.id);
      d.logger.info({ rule: rule.id, name: rule.name, match: describeRule(rule) }, 'rule removed');
      ruleRemoved(d.events, rule, 'control');
      await removeAndSync(rule);
      d.syncInputs();
      return { rule };
    },
    async listRules() {
      const rules = d.table.list();
      return { rules, generation: d.table.generation, problems: problems(),
        ...(d.stream !== undefined ? { streams: { rules: ruleStreams(rules, d.stream) } } : {}),
        ...(d.consume !== undefined ? { consumes: { mode: String(d.consume.mode), rules: d.consume.list() } } : {}) };
    },
    async stats() {
      const slots = await d.fleet.counters();
      // Timed after the answers arrive: that is when the counters were read.
      const rules = d.table.list();
      const result = addStreamHealth(stats.build(slots, rules, performance.now()), slots.map((s) => s.counters), rules, d.stream, (id) => stats.monitor(id));
      if (d.outputDrops !== undefined) result.outputInterfaces = await d.outputDrops(rules.flatMap((r) => r.outputs.map((o) => o.interface)));
      return markNoCarrier(result, rules, d.interfaceState);
    },
    async workers() {
      return { workers: d.fleet.info() };
    },
    async logs({ worker, level, lines, follow }, context) {
      if (worker !== undefined && worker !== '' && !d.fleet.hasWorker(worker)) {
        throw new RuleTableError('ENOENT', `no worker "${worker}": see \`mcrctl workers\``);
      }
      const min = levelValue(level ?? '') ?? 0;
      const only = worker === '' ? undefined : worker;
      const first: LogsResult = { lines: d.logs.recent(only, min, lines !== undefined && lines > 0 ? lines : DEFAULT_LOG_LINES) };
      if (follow !== true) return first;
      return (async function* () {
        yield first;
        const queue: LogsResult['lines'] = [];
        let wake: (() => void) | undefined;
        const stop = d.logs.follow((line) => {
          if ((only === undefined || line.worker === only) && (LEVEL_VALUES[line.level] ?? 30) >= min) {
            queue.push(line);
            wake?.();
          }
        });
        const aborted = new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
        try {
          while (!context.signal.aborted) {
            if (queue.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
            if (queue.length > 0) yield { lines: queue.splice(0) };
          }
        } finally {
          stop();
        }
      })();
    },
    async events({ last, follow }, context) {
      const recent = d.events.recent(last);
      if (follow !== true) return { events: recent };
      return d.events.follow(recent, context.clientId, context.signal);
    },
    async logLevelGet() {
      return { level: d.logger.level, workers: d.fleet.info().map((w) => ({ worker: w.id, level: w.logLevel })) };
    },
    async logLevelSet({ level, worker }) {
      if (levelValue(level) === undefined && level !== 'silent') throw new RuleTableError('ERR_MCR_BAD_LEVEL', `unknown level "${level}": use trace, debug, info, warn, error, fatal or silent`);
      if (worker !== undefined && worker !== '' && !d.fleet.hasWorker(worker)) throw new RuleTableError('ENOENT', `no worker "${worker}": see \`mcrctl workers\``);
      if (worker === undefined || worker === '') d.logger.level = level;
      return { level, workers: await d.fleet.setLogLevel(level, worker === '' ? undefined : worker) };
    },
    async reload() {
      let file = d.configFile ?? '';
      let config: ReturnType<typeof loadConfig>;
      try {
        refuseWhileStopping('the reload');
        file = configPath(undefined);
        // Held to the running limits (ENOSPC past them): throws ConfigError, nothing changes.
        config = loadConfig(file, { maxRulesPerInterface: d.table.limits.maxRules });
      } catch (err) {
        reloadRefused(d.events, file, err);
        throw err;
      }
      // Counted up to now: a changed rule's workers drop its old id at the sync below, and what they counted on it since the last stats would be lost.
      const sampled = await d.fleet.counters();
      try {
        // The stop may have begun while the counters were read (up to 3 s per silent worker): the reload must then change nothing.
        refuseWhileStopping('the reload');
      } catch (err) {
        reloadRefused(d.events, file, err);
        throw err;
      }
      stats.observe(sampled, d.table.list());
      const wanted = new Map(config.rules.map((r) => [matchKey(r), r]));
      const changes: RuleChange[] = [];
      let unchanged = 0;
      const replaced = new Map<string, { previous: Rule; fields: RuleChange['fields'] }>();
      for (const rule of d.table.list()) {
        const key = matchKey(rule);
        const next = wanted.get(key);
        const fields = next === undefined ? [] : ruleDiff(rule, next);
        if (next !== undefined && fields.length === 0) {
          unchanged++;
          wanted.delete(key);
          continue;
        }
        d.table.remove(rule.id);
        if (next !== undefined) replaced.set(key, { previous: rule, fields });
        else changes.push({ kind: 'removed', ruleId: rule.id, previousId: 0, match: describeRule(rule), ...named(rule), fields: [] });
      }
      for (const [key, next] of wanted) {
        const rule = d.table.add(next);
        for (const w of ruleWarnings(rule)) d.logger.warn({ rule: rule.id, name: rule.name }, w);
        const was = replaced.get(key);
        changes.push(was === undefined
          ? { kind: 'added', ruleId: rule.id, previousId: 0, match: describeRule(rule), ...named(rule), fields: [] }
          : { kind: 'changed', ruleId: rule.id, previousId: was.previous.id, match: describeRule(rule), ...named(rule), fields: was.fields });
        // The changed rule goes on counting from the old one's totals (and its outputs that stayed, from theirs),
        // and from its stream's state.
        if (was !== undefined) {
          stats.carry(was.previous.id, rule);
          d.stream?.carry(was.previous.id, rule);
        }
      }
      const count = (kind: RuleChange['kind']): number => changes.filter((c) => c.kind === kind).length;
      const daemonNotApplied = d.startDaemon === undefined ? [] : daemonChanges(d.startDaemon, config.daemon);
      const diff = { file, added: count('added'), removed: count('removed'), changed: count('changed'), unchanged, changes, daemonNotApplied };
      // Recorded as the table changed, before the workers follow it.
      reloadApplied(d.events, diff, (id) => d.table.get(id));
      // Unchanged rules are never touched in the workers: the reconcile
      // below syncs only the workers of interfaces whose rules changed (or
      // that hold a rule they refused, tried again), each in one step.
      d.syncInputs();
      await d.fleet.reconcile();
      const result = { ...diff, problems: problems() };
      d.logger.info({ file, added: result.added, removed: result.removed, changed: result.changed, unchanged,
        changes: changes.map((c) => `${c.kind} rule ${c.ruleId}${c.fields.length > 0 ? ': ' + c.fields.map((f) => `${f.field} ${f.before || '(unset)'} -> ${f.after || '(unset)'}`).join(', ') : ''}`) },
      'configuration reloaded');
      for (const p of result.problems) {
        d.logger.warn({ rule: p.ruleId, refused: p.refused.map((r) => `${r.worker}: ${r.error.code}`), unconfirmed: p.unconfirmed }, 'rule not applied by every worker after reload');
      }
      if (daemonNotApplied.length > 0) {
        d.logger.warn({ file, daemonNotApplied }, 'the file\'s daemon settings differ from those mcrd started with: a reload applies rules only, these take effect when mcrd starts again');
      }
      return result;
    },
    async save({ file }) {
      const path = configPath(file);
      const rules: ConfigRule[] = d.table.list().map(({ id: _id, ...r }) => r as ConfigRule);
      // Atomic; an existing file keeps its mode, a symlink its target, and its owner where mcrd may keep it (write-file.ts).
      const written = writeConfigFile(path, formatConfig({ daemon: daemonToSave(path), rules }));
      if (written.ownerChanged !== undefined) {
        d.logger.warn({ file: path, code: 'EPERM', was: written.ownerChanged, now: { uid: process.geteuid?.(), gid: process.getegid?.() } },
          'saved, but the file now belongs to mcrd\'s user and group: mcrd may not give it back its owner (no CAP_CHOWN); chown it again if that matters');
      }
      return { file: path, rules: rules.length };
    },
    async check({ file, text }) {
      const options = { maxRulesPerInterface: d.table.limits.maxRules };
      if (text !== undefined) return { file, rules: parseConfig(text, file, options).rules.length };
      try {
        return { file, rules: loadConfig(file, options).rules.length };
      } catch (err) {
        // mcrctl sent the path alone: it could not read the file itself, or
        // the file is too large for a request. mcrd reads it as itself, in
        // its unit's sandbox, which the caller may not expect.
        if (err instanceof ConfigError && err.code === 'ERR_MCR_CONFIG_READ') {
          throw new ConfigError(err.code, `${err.message}; mcrd reads it as itself (under its systemd unit /home is hidden and /tmp ` +
            'is its own): put it where mcrd can read it, such as /etc/mcr, or check a file you can read and of up to 56 KiB, which mcrctl sends itself',
          { file });
        }
        throw err;
      }
    },
    async ping() {
      return { pid: process.pid, uptimeMs: Date.now() - d.startedAtMs };
    },
    async version() {
      return { version: d.version, node: process.version, protocol: CONTROL_PROTOCOL };
    },
    async clear({ id, name, caller }, context) {
      if (id !== undefined && id !== 0 && name !== undefined && name !== '') throw new RuleTableError('ERR_MCR_BAD_REQUEST', 'give at most one of id or name');
      let target: Rule | undefined;
      if ((id !== undefined && id !== 0) || (name !== undefined && name !== '')) {
        target = id !== undefined && id !== 0 ? d.table.get(id) : d.table.byName(name ?? '');
        if (target === undefined) throw new RuleTableError('ENOENT', `no rule ${id !== undefined && id !== 0 ? id : `named "${name}"`}: see \`mcrctl list\``);
      }
      // Read first: what the workers counted before the clear must not show after it.
      stats.observe(await d.fleet.counters(), d.table.list());
      const cleared = stats.clear(target === undefined ? undefined : [target.id]);
      const who = caller === '' ? 'unknown' : caller;
      d.logger.info({ rules: target === undefined ? 'all' : cleared.ruleIds, ...(target?.name !== undefined ? { name: target.name } : {}),
        inputs: cleared.inputs, caller: who, client: context.clientId }, 'counters cleared');
      d.countersCleared?.({ ...cleared, all: target === undefined, caller: who, client: context.clientId });
      return cleared;
    },
  };
}
