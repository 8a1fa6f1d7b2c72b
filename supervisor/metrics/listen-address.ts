/**
 * Where mcrd serves its Prometheus metrics: the `ADDR:PORT` of
 * `--metrics-listen` or `daemon.metricsListen`, parsed once (the config
 * schema checks the file's value with the same function), and the rule that
 * an address other than loopback must be asked for on purpose. The endpoint
 * has no authentication and names every rule, group and interface, so by
 * default it stays on the host: `--metrics-allow-remote` or
 * `daemon.metricsAllowRemote: true` lifts that.
 *
 * Only IP literals: a host name could resolve to an address the operator
 * did not mean (and to another one after the next DNS change).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  /** The address as node:http listens on it (IPv6 without brackets). */
  host: string;
  port: number;
  /** 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address. */
  loopback: boolean;
  /** As the operator wrote it, for messages and logs. */
  text: string;
}

export type MetricsErrorCode = 'ERR_MCR_METRICS_ADDRESS' | 'ERR_MCR_METRICS_REMOTE';

/** A refused metrics setting; mcrd prints `code: message` and exits 2. */
export class MetricsError extends Error {
  constructor(readonly code: MetricsErrorCode, message: string) {
    super(message);
    this.name = 'MetricsError';
  }
}

const EXAMPLE = '127.0.0.1:9464';

/** `ADDR:PORT` or `[IPV6]:PORT`; a string says what is wrong (without the field name). */
export function parseListenAddress(value: unknown): ListenAddress | string {
  if (typeof value !== 'string') return `expected ADDR:PORT such as "${EXAMPLE}", got ${value === null ? 'null' : typeof value}`;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (m === null) return `expected ADDR:PORT such as ${EXAMPLE} (IPv6 as [::1]:9464), got ${JSON.stringify(value)}`;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (m[1] !== undefined ? !isIPv6(host) : !isIPv4(host)) {
    return `${JSON.stringify(host)} is not an IP address: give an address, not a host name, such as ${EXAMPLE}`;
  }
  if (port < 1 || port > 65535) return `port ${m[3]} is out of range: expected 1..65535`;
  return { host, port, loopback: isLoopback(host), text: value };
}

function isLoopback(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  const lower = host.toLowerCase();
  if (/^(0{0,4}:){2,7}0{0,3}1$/.test(lower) || lower === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped?.[1] !== undefined && mapped[1].startsWith('127.');
}

/**
 * The address to serve metrics on, or undefined when metrics are off.
 * Throws MetricsError for a malformed address (ERR_MCR_METRICS_ADDRESS) and
 * for a non-loopback one without `allowRemote` (ERR_MCR_METRICS_REMOTE).
 */
export function metricsListenAddress(value: string | undefined, allowRemote: boolean): ListenAddress | undefined {
  if (value === undefined) return undefined;
  const parsed = parseListenAddress(value);
  if (typeof parsed === 'string') throw new MetricsError('ERR_MCR_METRICS_ADDRESS', `metrics listen address: ${parsed}`);
  if (!parsed.loopback && !allowRemote) {
    throw new MetricsError('ERR_MCR_METRICS_REMOTE',
      `metrics listen address ${parsed.text} is not a loopback address, and the endpoint has no authentication: ` +
      `listen on 127.0.0.1:${parsed.port} and let a local Prometheus (or a proxy) scrape it, or, to serve it to the network on purpose, ` +
      'add --metrics-allow-remote (daemon.metricsAllowRemote: true) and limit who can reach the port with a firewall');
  }
  return parsed;
}
