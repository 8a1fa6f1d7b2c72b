#!/usr/bin/env node
/**
 * `mcrd`: the supervisor. Reads the config, owns the rule table, runs the
 * worker fleet and the control socket, captures worker logs; SIGHUP reloads
 * the config as a diff; SIGTERM/SIGINT drain and stop every worker, close the
 * socket and remove its file. Under systemd (Type=notify) it reports
 * readiness, reloads, stops and a status line itself (notify/).
 * Its command line (options, checks, --version): mcrd-args.ts.
 */
import { DEFAULT_CONTROL_SOCKET } from '../common/defaults.js';
import type { Logger } from 'pino';
import { createLogger } from '../common/logger.js';
import { realtimeText } from '../common/loop-settings.js';
import { defaultDaemonSettings, loadConfig, type Config } from './config/index.js';
import { ControlServer } from './control/server.js';
import { SocketLock } from './control/socket-lock.js';
import { NamespaceGuard } from './control/namespace-guard.js';
import { JoinRetry } from './net/join-retry.js';
import { createHandler, type CountersCleared } from './daemon-handler.js';
import { ruleWarnings } from './rule-warnings.js';
import { allowedCpus, CpuPlanError, formatCpuList, planCpus, type CpuPlan } from './cpu-set.js';
import { Fleet } from './fleet/fleet.js';
import { native } from '../native/index.js';
import { GroupMemberships } from './net/group-memberships.js';
import { InterfaceWatcher } from './net/interface-watcher.js';
import { readOutputDrops, SYSTEM_HOST } from './net/output-drops.js';
import { InputFilters } from './net/input-filters.js';
import { ConsumePolicy } from './net/consume-policy.js';
import { RuleTable } from './rule-table.js';
import { openFilesLimit, ruleLimits, workerFdsNeeded, workerSlots } from '../common/rule-limits.js';
import { logFileProblemsTo, WorkerLogs } from './worker-logs.js';
import { errorCode, errorReason } from '../common/control-errors.js';
import { metricsListenAddress, MetricsError } from './metrics/listen-address.js';
import { ReloadStatus, trackReloads } from './metrics/reload-status.js';
import { startMetrics } from './metrics/daemon-source.js';
import { StreamWatch } from './health/stream-watch.js';
import { EventLog } from './events/event-log.js';
import { InterfaceEvents } from './events/interface-events.js';
import { ruleAdded } from './events/rule-events.js';
import { Notifier } from './notify/notifier.js';
import { checkWorkerFiles, unreadableMessage } from './fleet/worker-files.js';
import { WORKER_ENTRY } from './fleet/worker-process.js';
import { packageRoot } from '../native/package-root.js';
import { checkHost, failures, renderFindings, startWarnings, type HostPlan } from './host-check/run.js';
import { readHostFacts } from './host-check/host-facts.js';
import { loopRealtime } from './host-check/checks-host.js';
import { ServiceState } from './notify/service-state.js';
import { DaemonSignals } from './daemon-signals.js';
import { runStopSteps } from './stop-steps.js';
import { loopSettings, packageVersion, parse } from './mcrd-args.js';


/**
 * With --worker-cpus leaving some of mcrd's CPUs free, mcrd moves all its own
 * threads there (threads started later inherit it), and the workers put
 * every thread but their loop there too (FleetOptions.auxCpus), so neither
 * control work nor a worker's Node thread competes with a loop for its core;
 * otherwise they share them, as before.
 */
function placeSupervisor(plan: CpuPlan, logger: Logger): void {
  const workers = formatCpuList(plan.workerCpus);
  if (plan.supervisorCpus.length === 0) {
    logger.info({ workerCpus: workers }, 'workers on CPUs ' + workers + '; mcrd shares them (no CPU left for it alone)');
    return;
  }
  const own = formatCpuList(plan.supervisorCpus);
  try {
    native.pinToCpus(plan.supervisorCpus);
    logger.info({ workerCpus: workers, supervisorCpus: own }, `workers' loops on CPUs ${workers}; mcrd and the workers' other threads on CPUs ${own}`);
  } catch (err) {
    logger.warn({ code: (err as { code?: string }).code, err: (err as Error).message, workerCpus: workers, supervisorCpus: own },
      'could not move mcrd off its workers\' CPUs: it shares them');
  }
}

/** A start-up failure: one line on stderr, "mcrd: CODE: what is wrong and what to do", then the exit (2: the arguments or config, 1: the host). */
function startFailed(code: string, text: string, status: 1 | 2): never {
  process.stderr.write(`mcrd: ${code}: ${text}\n`);
  process.exit(status);
}


async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  let config: Config = { daemon: {}, rules: [] };
  if (opts.config !== undefined) {
    try {
      // The command line's limit wins over the file's own daemon.maxRulesPerInterface.
      config = loadConfig(opts.config, opts.maxRulesPerInterface !== undefined ? { maxRulesPerInterface: opts.maxRulesPerInterface } : {});
    } catch (err) {
      startFailed(errorCode(err) ?? 'ERR_MCR_CONFIG', errorReason(err), 2);
    }
  }
  const d = config.daemon;
  const defaults = defaultDaemonSettings();
  let metricsAt: ReturnType<typeof metricsListenAddress>;
  try {
    metricsAt = metricsListenAddress(opts.metricsListen ?? d.metricsListen, opts.metricsAllowRemote ?? d.metricsAllowRemote ?? defaults.metricsAllowRemote);
  } catch (err) {
    if (!(err instanceof MetricsError)) throw err;
    startFailed(err.code, err.message, 2);
  }
  // A worker that cannot load its code would exit at every start: say so once, now.
  const unreadable = checkWorkerFiles(WORKER_ENTRY, packageRoot());
  if (unreadable !== undefined) {
    process.stderr.write(`mcrd: ${unreadableMessage(unreadable, packageRoot())}\n`);
    process.exit(1);
  }
  let cpuPlan: CpuPlan;
  try {
    cpuPlan = planCpus(allowedCpus(), opts.workerCpus ?? d.workerCpus);
  } catch (err) {
    if (!(err instanceof CpuPlanError)) throw err;
    startFailed(err.code, err.message, 2);
  }
  const cpus = cpuPlan.workerCpus;
  const workersPerInterface = opts.workers ?? d.workers ?? cpus.length;
  const loop = loopSettings(opts, d, defaults);
  const hostPlan: HostPlan = { rules: config.rules, workersPerInterface, cpus, loop };
  if (opts.checkHost === true) {
    const findings = checkHost(readHostFacts(), hostPlan);
    process.stdout.write(opts.json === true ? JSON.stringify({ ok: failures(findings).length === 0, findings }, null, 2) + '\n' : renderFindings(findings));
    process.exit(failures(findings).length === 0 ? 0 : 1);
  }
  const socketGroup = opts.socketGroup ?? d.socketGroup;
  let socketGid: number | undefined;
  if (socketGroup !== undefined) {
    try {
      socketGid = native.lookupGroup(socketGroup);
    } catch (err) {
      startFailed(errorCode(err) ?? 'ENOENT', `no group ${socketGroup} for the control socket (--socket-group, daemon.socketGroup): ` +
        'create it (the package does: systemd-sysusers) or name another', 2);
    }
  }
  // Each worker switches to this user once started (as root): a user the host
  // does not know would fail every start, in a restart loop. Say so once, now.
  const workerUser = opts.user ?? d.user ?? 'nobody';
  if (process.getuid?.() === 0) {
    let workerGid = -1;
    try {
      workerGid = native.lookupUser(workerUser).gid;
    } catch (err) {
      const code = errorCode(err) ?? 'ENOENT';
      startFailed(code, `${code === 'ENOENT' ? `no user ${workerUser}` : `cannot look up user ${workerUser} (${errorReason(err)})`} ` +
        `for the workers to run as (--user, daemon.user): create it (useradd --system -g nogroup --no-create-home --shell /usr/sbin/nologin ${workerUser}) or name another`, 2);
    }
    // The workers keep their user's primary group (and no other): in the
    // control socket's group, a worker, the process that parses frames off
    // the wire, could connect to the socket and change the rules. An
    // account made with its own group of the socket group's name (adduser
    // mcr, useradd -U mcr) before the package would be that.
    if (socketGid !== undefined && workerGid === socketGid) {
      startFailed('ERR_MCR_WORKER_GROUP', `the workers' user ${workerUser} (--user, daemon.user) has the control socket's group ` +
        `${socketGroup ?? ''} (--socket-group, daemon.socketGroup) as its primary group, so a worker could use the control socket: ` +
        (socketGroup === 'nogroup' ? 'name another socket group (the package makes group mcr for it)'
          : `give ${workerUser} another primary group (usermod -g nogroup ${workerUser}) or name another user or socket group`), 2);
    }
  }
  const logLevel = opts.logLevel ?? d.logLevel ?? 'info';
  // The daemon's log is its stdout (as supervisors expect); one-line start-up errors go to stderr.
  const logger = createLogger(logLevel, { name: 'mcrd' }, 1);
  // Before the first component starts: a signal from here on is never the default action (daemon-signals.ts).
  const signals = new DaemonSignals((signal) => logger.info({ signal }, `${signal} during start-up: acting on it once mcrd is ready`), (signal) => {
    logger.warn({ signal }, 'second stop signal: exiting now, without waiting for the drain (the workers end with mcrd; the next start removes the filters it leaves)');
    process.exit(130);
  });
  // Read (and removed from the environment) before any child is spawned: only mcrd notifies.
  const notifier = Notifier.fromEnv(process.env, (address, data) => native.sendUnixDatagram(address, data), logger);
  placeSupervisor(cpuPlan, logger);
  // The control socket's lock before anything another mcrd on this path
  // owns is touched (its socket file, the consume filters removed below as
  // stale): a second mcrd stops here (control/socket-lock.ts).
  const controlSocket = opts.controlSocket ?? d.controlSocket ?? DEFAULT_CONTROL_SOCKET;
  let socketLock: SocketLock;
  try {
    socketLock = await SocketLock.take(controlSocket);
  } catch (err) {
    startFailed(errorCode(err) ?? 'ERR_MCR_CONTROL', errorReason(err), 1);
  }
  // And the network namespace's: another mcrd here, whatever its socket, would share fan-out groups and filters.
  let namespaceGuard: NamespaceGuard;
  try {
    namespaceGuard = await NamespaceGuard.claim({ controlSocket,
      onSquatter: (holder, why) => logger.warn({ holderPid: holder?.pid, holderUid: holder?.uid },
        `the one-mcrd-per-network-namespace check is skipped: the abstract socket mcr/mcrd ${why}; ` +
        'make sure no other mcrd runs in this namespace, and end the process that holds the name'),
      onError: (err) => logger.warn({ code: errorCode(err), err: err.message }, 'the one-mcrd-per-namespace guard could not accept a connection') });
  } catch (err) {
    startFailed(errorCode(err) ?? 'ERR_MCR_CONTROL', errorReason(err), 1);
  }
  const logDir = opts.logDir ?? d.logDir;
  let logs: WorkerLogs;
  try {
    logs = new WorkerLogs(logDir, logFileProblemsTo(logger));
  } catch (err) {
    startFailed(errorCode(err) ?? 'EIO', `cannot create the log directory ${logDir ?? ''} (--log-dir, daemon.logDir): ${errorReason(err)}; create it or name another`, 1);
  }
  const limits = ruleLimits(opts.maxRulesPerInterface ?? d.maxRulesPerInterface ?? defaults.maxRulesPerInterface);
  const table = new RuleTable(limits);
  // The event log (mcrctl events); a dropped follower is also a warning in mcrd's own log.
  const events = new EventLog({ onDrop: (drop) => logger.warn(drop, 'events follower did not read: dropped') });
  for (const rule of config.rules) {
    const added = table.add(rule);
    ruleAdded(events, added, 'config');
    for (const w of ruleWarnings(added)) logger.warn({ rule: added.id, name: added.name }, w);
  }
  // Workers inherit mcrd's open-files limit; a full sync of an interface at
  // its limits needs this many. As root mcrd raises it itself (hard limit
  // included, up to fs.nr_open); otherwise as far as the hard limit allows.
  let files = openFilesLimit();
  try {
    files = native.raiseOpenFilesLimit(workerFdsNeeded(limits));
  } catch (err) {
    logger.warn({ code: (err as { code?: string }).code, err: (err as Error).message }, 'could not raise the open files limit');
  }
  if (files !== undefined && files < workerFdsNeeded(limits)) {
    logger.warn({ code: 'EMFILE', openFilesLimit: files, needed: workerFdsNeeded(limits), maxRulesPerInterface: limits.maxRules },
      'the open files limit is below what a worker needs for an interface at its rule limits (one socket per output, twice during a full sync): ' +
      'raise it (LimitNOFILE= in the service, ulimit -n) or lower daemon.maxRulesPerInterface');
  }
  const memberships = new GroupMemberships(native, logger);
  // Reports that come while mcrd starts are held, merged, and followed once
  // it has started (below): following one needs the fleet, and acting on it
  // before the metrics endpoint and the control socket listen could leave a
  // consume filter behind if either then fails. Netlink reports cannot
  // arrive before start() resolves.
  type InterfaceChange = { links: Set<string>; addresses: Set<string> };
  const held: InterfaceChange = { links: new Set(), addresses: new Set() };
  let onInterfaces = (change: InterfaceChange): void => {
    for (const l of change.links) held.links.add(l);
    for (const a of change.addresses) held.addresses.add(a);
  };
  const watcher = new InterfaceWatcher({ logger, onChange: (change) => onInterfaces(change) });
  try {
    await watcher.start();
  } catch (err) {
    startFailed(errorCode(err) ?? 'ERR_MCR_NETLINK', `cannot follow interfaces: ${errorReason(err)}`, 1);
  }
  // --consume-inputs: tc filters that stop relayed datagrams before the host's IP stack,
  // for the rules the policy decides to consume (in auto: those no local socket listens to).
  // Stale filters of a killed mcrd go whatever this one's setting.
  const consumeMode = opts.consumeInputs ?? d.consumeInputs ?? defaults.consumeInputs;
  logger.info({ consumeInputs: consumeMode }, consumeMode === 'auto'
    ? 'consumeInputs auto: each rule\'s input is consumed unless a local socket listens to its group or port'
    : `consumeInputs ${String(consumeMode)}: every rule's input is ${consumeMode ? '' : 'not '}consumed`);
  // The loops' scheduling: "auto" (the default) takes SCHED_FIFO where the
  // RLIMIT_RTPRIO the workers inherit from mcrd grants it; each worker
  // resolves it the same way (worker/fleet-worker.ts). A kernel that
  // refuses it anyway is the host check's start-up warning instead.
  const realtime = loopRealtime(readHostFacts(), loop);
  if (realtime.refused === undefined) {
    logger.info({ loopRtPriority: realtime.priority, rtprioLimit: realtime.rtprioLimit }, realtimeText(loop, realtime.rtprioLimit));
  }
  const interfaceEvents = new InterfaceEvents(watcher, events);
  const filters = new InputFilters(logger);
  await filters.removeStale(watcher.names());
  const links = { index: (iface: string) => watcher.get(iface)?.ifindex, nameOf: (ifindex: number) => watcher.nameOf(ifindex) };
  const applyFilters = (): Promise<void> => filters.apply(consume.consumeMatches(), links);
  // Assigned once the fleet exists; no poll runs before start().
  let workerPids: () => number[] = () => [];
  const consume = new ConsumePolicy({ mode: consumeMode, logger, rules: () => table.list(),
    ownGroupSockets: (iface, group) => memberships.holderCount(iface, group), ownPids: () => [process.pid, ...workerPids()], onChange: () => void applyFilters() });
  const syncFilters = (): Promise<void> => {
    consume.rulesChanged();
    return applyFilters();
  };
  /** Memberships now; the filters' tc commands run in order behind it (the promise settles when they have, never rejects). */
  const joins = new JoinRetry(() => memberships.apply(table.inputGroups(), (iface) => watcher.get(iface)?.ifindex).length, logger);
  const syncInputs = (): Promise<void> => {
    joins.run();
    return syncFilters();
  };
  const fleet = new Fleet({ interfaces: watcher, workersPerInterface, cpus, auxCpus: cpuPlan.supervisorCpus, user: workerUser,
    logLevel, table, logs, logger, events, loop, slots: workerSlots(limits), restartBackoff: opts.restartBackoff ?? {
      minMs: d.restartBackoffMinMs ?? defaults.restartBackoffMinMs,
      // A file that raises only the minimum above 10 s gets that as its maximum too (checked by the loader).
      maxMs: d.restartBackoffMaxMs ?? Math.max(d.restartBackoffMinMs ?? 0, defaults.restartBackoffMaxMs),
    }, timing: { hungAfterMs: opts.hungWorkerMs ?? d.hungWorkerMs ?? defaults.hungWorkerMs } });
  workerPids = () => fleet.info().map((w) => w.pid).filter((pid) => pid > 0);
  const followInterfaces = (change: InterfaceChange): void => {
    logger.info({ links: [...change.links], addresses: [...change.addresses] }, 'interfaces changed');
    interfaceEvents.changed([...change.links, ...change.addresses]);
    void syncInputs();
    fleet.interfacesChanged(change).catch((err: Error & { code?: string }) =>
      logger.error({ code: err.code, err: err.message }, 'following an interface change failed'));
  };
  // Loss of signal: polls the workers' arrivals and logs each stream change (the events log listens with stream.onChange).
  const stream = new StreamWatch({ rules: () => table.list(), poll: () => fleet.arrivals(), logger });
  stream.onChange((c) => {
    const named = c.name !== undefined ? { name: c.name } : {};
    if (c.state === 'down') events.record('stream.down', { rule: c.ruleId, ...named, timeoutMs: c.signalTimeoutMs });
    else events.record('stream.up', { rule: c.ruleId, ...named, ...(c.downMs !== undefined ? { downMs: c.downMs } : {}) });
  });
  // Set when the stop begins; the handler refuses rule changes from then on (ESHUTDOWN).
  let stopping = false;
  const state = { table, fleet, logs, events, logger, syncInputs, stopping: () => stopping, configFile: opts.config, version: packageVersion(), startedAtMs: Date.now(),
    interfaceState: (name: string) => watcher.get(name), stream, startDaemon: config.daemon,
    outputDrops: (names: string[]) => readOutputDrops(names, { ...SYSTEM_HOST, ifindex: (name) => watcher.get(name)?.ifindex }),
    // A rule decided "consume" whose interface has no filter says why.
    consume: { mode: consumeMode, list: () => consume.list().map((c) => {
      const iface = c.consumed ? table.get(c.ruleId)?.inputInterface : undefined;
      const problem = iface !== undefined ? filters.problem(iface) : undefined;
      return problem === undefined ? c : { ruleId: c.ruleId, consumed: false, reason: `${c.reason}, but ${problem}` };
    }) },
    countersCleared: (c: CountersCleared) => events.record('counters.cleared', { all: c.all, rules: c.ruleIds, inputs: c.inputs, caller: c.caller }) };
  const reloads = new ReloadStatus();
  // Reloads pass through trackReloads whichever way they come (control socket, SIGHUP), for the metrics.
  const tracked = trackReloads(createHandler(state), reloads);
  const service = new ServiceState({ notifier, logger, workers: () => fleet.info(), rules: () => table.list().length,
    pps: async () => {
      const stats = await tracked.stats({}, { signal: new AbortController().signal, clientId: 0, requestId: 0 });
      const rates = stats.rules.map((r) => r.pps).filter((p): p is number => p !== undefined);
      return rates.length === 0 && stats.rules.length > 0 ? undefined : rates.reduce((a, b) => a + b, 0);
    } });
  // RELOADING=1 / READY=1 around every reload, whichever way it comes (control socket, SIGHUP).
  const handler = { ...tracked, reload: (...args: Parameters<typeof tracked.reload>) => service.aroundReload(() => tracked.reload(...args)) };
  const metrics = metricsAt === undefined ? undefined : await startMetrics({ address: metricsAt, handler, rules: () => table.list(),
    workers: () => fleet.info(), reloads, version: state.version, layout: native.counterLayout(), logger }).catch((err: Error) =>
    startFailed(errorCode(err) ?? 'ERR_MCR_METRICS', `cannot serve metrics on ${metricsAt?.text ?? ''}: ${errorReason(err)}; ` +
      'choose another address or port (--metrics-listen, daemon.metricsListen)', 1));
  const server = new ControlServer({ path: controlSocket, lock: socketLock, handler, log: logger,
    ...(socketGid !== undefined ? { socketGroup: socketGid } : {}) });
  try {
    await server.listen();
  } catch (err) {
    startFailed(errorCode(err) ?? 'ERR_MCR_CONTROL', errorReason(err), 1);
  }
  const inputsSynced = syncInputs();
  await fleet.reconcile();
  await inputsSynced;
  onInterfaces = followInterfaces;
  if (held.links.size + held.addresses.size > 0) followInterfaces(held);
  stream.start();
  consume.start();
  logger.info({ rules: table.list().length, workers: fleet.info().length }, 'mcrd ready');
  void service.startReady();
  // The same checks as --check-host, as warnings (a host that needs tuning
  // still relays), and the defaults that fell back; after the workers'
  // start, which they would only delay.
  for (const f of startWarnings(checkHost(readHostFacts(), hostPlan))) {
    logger.warn({ check: f.check, subject: f.subject, fix: f.fix }, `host check: ${f.subject}: ${f.detail} (mcrd --check-host lists them all)`);
  }

  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    joins.stop();
    service.stopping();
    logger.info({ signal }, 'stopping: draining workers');
    const failed = await runStopSteps([
      { what: 'stream watch', run: () => stream.stop() },
      { what: 'consume policy', run: () => consume.stop() },
      { what: 'workers', run: () => fleet.close() },
      { what: 'interface watcher', run: () => watcher.close() },
      { what: 'group memberships', run: () => memberships.close() },
      { what: 'consume filters', run: () => filters.close() },
      { what: 'metrics endpoint', run: () => metrics?.close() },
      { what: 'control socket', run: () => server.close() },
      { what: 'namespace guard', run: () => namespaceGuard.close() },
    ], logger);
    if (failed.length > 0) {
      logger.error({ failed }, `mcrd stopped, but closing the ${failed.join(', ')} failed (see above)`);
      process.exit(1);
    }
    logger.info('mcrd stopped');
    process.exit(0);
  };
  // The same reload as `mcrctl reload`; the handler logs a success, a refusal is logged here.
  const reload = (): void => {
    logger.info({ signal: 'SIGHUP', file: opts.config }, 'reloading the configuration');
    handler.reload({}, { signal: new AbortController().signal, clientId: 0, requestId: 0 }).catch((err: Error & { code?: string }) =>
      logger.error({ signal: 'SIGHUP', code: err.code, err: err.message }, 'reload failed: nothing changed'));
  };
  signals.started({ stop: (signal) => void stop(signal), reload });
}

void main();
