/**
 * mcrd itself: mcr_build_info (always 1; the version from package.json and
 * the Node.js version as labels, the Prometheus convention for build
 * facts), and the config's reload status: whether the last reload worked
 * and when a config was last loaded (start-up or reload), as Prometheus
 * exports about its own config.
 */
import { Gauge } from 'prom-client';
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import type { MetricsSnapshot } from './snapshot.js';

export class DaemonMetrics implements MetricGroup {
  readonly #reloadOk: Gauge;
  readonly #reloadAt: Gauge;

  constructor({ registry, version }: GroupContext) {
    const registers = [registry];
    const build = new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1: the mcrd version (package.json) and the Node.js version it runs on.',
      labelNames: ['version', 'node'], registers });
    build.set({ version, node: process.version }, 1);
    this.#reloadOk = new Gauge({ name: `${PREFIX}config_last_reload_successful`,
      help: '1 when the last config reload (mcrctl reload, SIGHUP) worked or none was tried since start-up, 0 when it was refused.', registers });
    this.#reloadAt = new Gauge({ name: `${PREFIX}config_last_reload_success_timestamp_seconds`,
      help: 'When the config was last loaded (start-up or a reload that worked), in seconds since the epoch.', registers });
  }

  update(s: MetricsSnapshot): void {
    this.#reloadOk.set(s.reload.successful ? 1 : 0);
    this.#reloadAt.set(s.reload.lastSuccessSeconds);
  }
}
