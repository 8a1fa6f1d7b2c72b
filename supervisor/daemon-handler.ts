/**
 * mcrd's answers to control requests: rule changes go to the rule table
 * first (the source of truth), then to the interface's workers; stats and
 * worker lists come from the fleet (stats/ sums the counters and computes
 * rates); logs from the captured worker lines; reload, save and check go
 * through the config loader.
 */
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { formatConfig, loadConfig, type ConfigRule } from './config/index.js';
import { RuleTable, RuleTableError, matchKey } from './rule-table.js';
import type { Fleet } from './fleet/fleet.js';
import { LEVEL_VALUES, type WorkerLogs } from './worker-logs.js';
import { CONTROL_PROTOCOL, type LogsResult, type Rule } from './wire/index.js';
import type { ControlHandler } from './control/handler.js';
import { StatsReport } from './stats/stats-report.js';

export interface DaemonState {
  table: RuleTable;
  fleet: Fleet;
  logs: WorkerLogs;
  logger: Logger;
  /** Brings the supervisor's input group memberships (and, with --consume-inputs, its input filters) in line with the rule table. */
  syncInputs: () => void;
  configFile: string | undefined;
  version: string;
  startedAtMs: number;
  /** What this host knows of an interface right now (netlink), or undefined when it does not exist. */
  interfaceState?: (name: string) => { up: boolean; addresses: string[] } | undefined;
}

const DEFAULT_LOG_LINES = 100;

/**
 * An interactive add names interfaces that must exist now: a typo should
 * fail at once, not leave a rule that waits forever. (A config file may
 * name interfaces that appear later: its rules wait for them, docs/mcrd.md.)
 * An output also needs an IPv4 address to send from, unless it names its
 * own source.
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
    if (out.source === undefined && st !== undefined && st.addresses.length === 0) {
      // mcrctl adds what to do for EADDRNOTAVAIL.
      throw new RuleTableError('EADDRNOTAVAIL', `output interface ${out.interface} has no IPv4 address to send from`);
    }
  }
}

function ruleFromConfig(r: ConfigRule): Omit<Rule, 'id'> {
  return { ...r };
}

/** Canonical content of a rule, without its id, to tell unchanged from changed on reload. */
function content(r: Omit<Rule, 'id'> & { id?: number }): string {
  const { id: _id, ...rest } = r;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

export function createHandler(d: DaemonState): ControlHandler {
  const stats = new StatsReport();
  const removeAndSync = async (rule: Rule): Promise<void> => {
    if (d.table.forInterface(rule.inputInterface).length === 0) await d.fleet.reconcile();
    else await d.fleet.broadcast(rule.inputInterface, { kind: 'removeRule', generation: d.table.generation, hash: d.table.hashFor(rule.inputInterface), id: rule.id });
  };
  const addAndSync = async (rule: Rule): Promise<void> => {
    if (d.table.forInterface(rule.inputInterface).length === 1) await d.fleet.reconcile();
    else await d.fleet.broadcast(rule.inputInterface, { kind: 'addRule', generation: d.table.generation, hash: d.table.hashFor(rule.inputInterface), rule });
  };
  const configPath = (file: string | undefined): string => {
    const path = file ?? d.configFile;
    if (path === undefined || path === '') throw new RuleTableError('ERR_MCR_NO_CONFIG', 'mcrd was started without --config: name a file');
    return path;
  };

  return {
    async addRule({ rule: input }) {
      checkInterfaces(input, d.interfaceState);
      const rule = d.table.add(input);
      d.logger.info({ id: rule.id, name: rule.name }, 'rule added');
      // Joined before the workers have the rule, so its first datagrams are already delivered.
      d.syncInputs();
      await addAndSync(rule);
      return { rule };
    },
    async removeRule({ id, name }) {
      if ((id === undefined || id === 0) === (name === undefined || name === '')) {
        throw new RuleTableError('ERR_MCR_BAD_REQUEST', 'give exactly one of id or name');
      }
      const target = id !== undefined && id !== 0 ? d.table.get(id) : d.table.byName(name ?? '');
      if (target === undefined) throw new RuleTableError('ENOENT', `no rule ${id ?? `named "${name}"`}: see \`mcrctl list\``);
      const rule = d.table.remove(target.id);
      d.logger.info({ id: rule.id, name: rule.name }, 'rule removed');
      await removeAndSync(rule);
      d.syncInputs();
      return { rule };
    },
    async listRules() {
      return { rules: d.table.list(), generation: d.table.generation };
    },
    async stats() {
      const slots = await d.fleet.counters();
      // Timed after the answers arrive: that is when the counters were read.
      return stats.build(slots, d.table.list(), performance.now());
    },
    async workers() {
      return { workers: d.fleet.info() };
    },
    async logs({ worker, level, lines, follow }, context) {
      if (worker !== undefined && worker !== '' && !d.fleet.hasWorker(worker)) {
        throw new RuleTableError('ENOENT', `no worker "${worker}": see \`mcrctl workers\``);
      }
      const min = LEVEL_VALUES[level ?? ''] ?? 0;
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
    async logLevelGet() {
      return { level: d.logger.level, workers: d.fleet.info().map((w) => ({ worker: w.id, level: w.logLevel })) };
    },
    async logLevelSet({ level, worker }) {
      if (!(level in LEVEL_VALUES) && level !== 'silent') throw new RuleTableError('ERR_MCR_BAD_LEVEL', `unknown level "${level}": use trace, debug, info, warn, error, fatal or silent`);
      if (worker !== undefined && worker !== '' && !d.fleet.hasWorker(worker)) throw new RuleTableError('ENOENT', `no worker "${worker}": see \`mcrctl workers\``);
      if (worker === undefined || worker === '') d.logger.level = level;
      return { level, workers: await d.fleet.setLogLevel(level, worker === '' ? undefined : worker) };
    },
    async reload() {
      const file = configPath(undefined);
      const config = loadConfig(file); // throws ConfigError: nothing changes
      const wanted = new Map(config.rules.map((r) => [matchKey(r), ruleFromConfig(r)]));
      const current = d.table.list();
      let removed = 0, changed = 0, unchanged = 0, added = 0;
      const touched = new Set<string>();
      for (const rule of current) {
        const next = wanted.get(matchKey(rule));
        if (next !== undefined && content(next) === content(rule)) {
          unchanged++;
          wanted.delete(matchKey(rule));
          continue;
        }
        d.table.remove(rule.id);
        touched.add(rule.inputInterface);
        if (next !== undefined) changed++;
        else removed++;
      }
      for (const rule of wanted.values()) {
        d.table.add(rule);
        touched.add(rule.inputInterface);
      }
      added = wanted.size - changed;
      // Unchanged rules are never touched in the workers: the sync below
      // replaces the table of touched interfaces in one step.
      d.syncInputs();
      await d.fleet.reconcile();
      d.logger.info({ file, added, removed, changed, unchanged }, 'configuration reloaded');
      return { file, added, removed, changed, unchanged };
    },
    async save({ file }) {
      const path = configPath(file);
      const rules: ConfigRule[] = d.table.list().map(({ id: _id, ...r }) => r as ConfigRule);
      writeFileSync(path, formatConfig({ daemon: {}, rules }), { mode: 0o644 });
      return { file: path, rules: rules.length };
    },
    async check({ file }) {
      const config = loadConfig(file);
      return { file, rules: config.rules.length };
    },
    async ping() {
      return { pid: process.pid, uptimeMs: Date.now() - d.startedAtMs };
    },
    async version() {
      return { version: d.version, node: process.version, protocol: CONTROL_PROTOCOL };
    },
  };
}
