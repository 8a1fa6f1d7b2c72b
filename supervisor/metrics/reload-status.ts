/**
 * Whether the last config reload worked, and when the config was last
 * loaded, for mcr_config_last_reload_successful and
 * mcr_config_last_reload_success_timestamp_seconds (the pair Prometheus
 * exports about its own config). The config read at start-up counts as the
 * first successful load: mcrd does not start with a config it cannot load.
 *
 * trackReloads wraps the control handler's reload, so every way into it
 * (`mcrctl reload`, SIGHUP) is seen without daemon-handler.ts knowing about
 * metrics.
 */
import type { ControlHandler } from '../control/handler.js';

export class ReloadStatus {
  #successful = true;
  #lastSuccessMs: number;

  constructor(loadedAtMs: number = Date.now()) {
    this.#lastSuccessMs = loadedAtMs;
  }

  succeeded(atMs: number = Date.now()): void {
    this.#successful = true;
    this.#lastSuccessMs = atMs;
  }

  failed(): void {
    this.#successful = false;
  }

  /** False from a refused reload until the next one that works. */
  get successful(): boolean {
    return this.#successful;
  }

  /** Seconds since the epoch of the last load that worked (start-up or reload). */
  get lastSuccessSeconds(): number {
    return this.#lastSuccessMs / 1000;
  }
}

/** The handler with its reload reporting each outcome to `status`; every other method as it was. */
export function trackReloads<H extends Pick<ControlHandler, 'reload'>>(handler: H, status: ReloadStatus): H {
  const reload: ControlHandler['reload'] = async (request, context) => {
    try {
      const result = await handler.reload(request, context);
      status.succeeded();
      return result;
    } catch (err) {
      status.failed();
      throw err;
    }
  };
  return { ...handler, reload };
}
