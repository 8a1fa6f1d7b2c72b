/**
 * mcrd's metrics endpoint, wired to the running daemon: each scrape asks
 * the control handler for the same stats answer `mcrctl stats` gets (the
 * workers' counters, summed), then reads the rule table, the worker slots
 * and the reload status. mcrd.ts calls startMetrics once, after the
 * handler exists and before the control socket listens.
 */
import type { Logger } from 'pino';
import type { Rule, WorkerInfo } from '../../proto/index.js';
import type { ControlHandler, RequestContext } from '../control/handler.js';
import { MetricsCollector } from './collector.js';
import { MetricsServer } from './http-server.js';
import type { ListenAddress } from './listen-address.js';
import type { ReloadStatus } from './reload-status.js';
import { counterNames, type MetricsSource } from './snapshot.js';

export interface DaemonMetricsOptions {
  address: ListenAddress;
  handler: Pick<ControlHandler, 'stats'>;
  rules: () => readonly Rule[];
  workers: () => readonly WorkerInfo[];
  reloads: ReloadStatus;
  /** mcrd's version (package.json). */
  version: string;
  /** The addon's counter names (native.counterLayout()). */
  layout: { loop: readonly string[] };
  logger: Logger;
}

export function daemonSource(o: Pick<DaemonMetricsOptions, 'handler' | 'rules' | 'workers' | 'reloads'>): MetricsSource {
  // The stats handler never aborts on its own; its answer is bounded by the fleet's per-worker ping timeout.
  const context: RequestContext = { signal: new AbortController().signal, clientId: 0, requestId: 0 };
  return async () => {
    const stats = await o.handler.stats({}, context);
    // The rules the stats answer counted, as the table has them now: a rule
    // added meanwhile (a reload's changed rule among them, carrying its
    // predecessor's totals) waits for the next scrape rather than being
    // exported at 0 and then jumping to its total; a removed one is gone.
    const counted = new Set(stats.rules.map((r) => r.ruleId));
    return { stats, rules: o.rules().filter((r) => counted.has(r.id)), workers: o.workers(),
      reload: { successful: o.reloads.successful, lastSuccessSeconds: o.reloads.lastSuccessSeconds } };
  };
}

/** Serves the metrics; rejects with listen(2)'s errno-shaped error. */
export async function startMetrics(o: DaemonMetricsOptions): Promise<MetricsServer> {
  const collector = new MetricsCollector({ source: daemonSource(o), names: counterNames(o.layout), version: o.version });
  const server = new MetricsServer({ address: o.address, collector, logger: o.logger });
  await server.listen();
  return server;
}
