/**
 * The HTTP side of the metrics endpoint (node:http): GET or HEAD /metrics
 * answers the collector's text with Prometheus' content type; any other
 * path is 404, any other method 405 (with Allow). A scrape that fails
 * answers 500 with the error's code and message, and is logged.
 *
 * Nothing here blocks the event loop for longer than one scrape's CPU work
 * (bench/metrics-scrape.ts): the stats round-trip to the workers is
 * awaited, and concurrent requests share one scrape (collector.ts), so the
 * control socket keeps being served while Prometheus polls. Timeouts bound
 * what a slow or silent client can hold: 10 s for headers and for the whole
 * request (checked every second), 5 s idle on a kept-alive connection, and
 * at most 64 connections.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { MetricsCollector } from './collector.js';
import type { ListenAddress } from './listen-address.js';

export const METRICS_PATH = '/metrics';
const MAX_CONNECTIONS = 64;

/** What a slow or silent client may hold; tests shorten them. */
export interface MetricsTimeouts {
  /** Headers, and the whole request, must arrive within this. */
  requestMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveMs: number;
  /**
   * How often node:http checks the two above. Its default, 30 s, would let
   * a client that trickles its headers hold a connection for up to 40 s.
   */
  checkMs: number;
}

export const METRICS_TIMEOUTS: Readonly<MetricsTimeouts> = { requestMs: 10_000, keepAliveMs: 5_000, checkMs: 1_000 };

export interface MetricsServerOptions {
  address: ListenAddress;
  collector: MetricsCollector;
  logger: Pick<Logger, 'info' | 'warn'>;
  timeouts?: MetricsTimeouts;
}

export class MetricsServer {
  readonly #server: Server;
  readonly #o: MetricsServerOptions;

  constructor(o: MetricsServerOptions) {
    this.#o = o;
    const t = o.timeouts ?? METRICS_TIMEOUTS;
    this.#server = createServer({ requestTimeout: t.requestMs, headersTimeout: t.requestMs, keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: t.checkMs }, (req, res) => this.#handle(req, res));
    this.#server.maxConnections = MAX_CONNECTIONS;
  }

  /** Listens on the address; rejects with the errno-shaped error of listen(2) (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.#o.address;
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(err);
      this.#server.once('error', failed);
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', failed);
        this.#server.on('error', (err: Error & { code?: string }) => this.#o.logger.warn({ code: err.code, err: err.message }, 'metrics endpoint error'));
        const bound = this.#server.address();
        const actual = typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : { host, port };
        this.#o.logger.info({ address: this.#o.address.text, path: METRICS_PATH }, 'metrics endpoint listening');
        resolve(actual);
      });
    });
  }

  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.#reply(res, 405, `method ${req.method ?? '?'} not allowed: use GET ${METRICS_PATH}\n`, { Allow: 'GET, HEAD' });
      return;
    }
    if (path !== METRICS_PATH) {
      this.#reply(res, 404, `not found: mcrd serves its metrics at ${METRICS_PATH}\n`);
      return;
    }
    this.#o.collector.scrape().then(
      (text) => this.#reply(res, 200, text, { 'Content-Type': this.#o.collector.contentType }),
      (err: Error & { code?: string }) => {
        this.#o.logger.warn({ code: err.code, err: err.message }, 'metrics scrape failed');
        this.#reply(res, 500, `${err.code ?? 'ERR_MCR_METRICS'}: ${err.message}\n`);
      });
  }

  #reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    // Node sends no body for HEAD, with the same headers as GET (Content-Length included).
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}
