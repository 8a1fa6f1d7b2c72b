/**
 * Shared set-up of the control-socket unit tests: a stub ControlHandler
 * answering every request kind (tests override the kinds they exercise), a
 * ControlServer on a socket in a fresh temp directory with a client factory,
 * a deferred promise, and a stale socket file (one nobody listens on).
 * Everything started is closed and removed at the test's teardown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControlClient } from '../../common/control-client.js';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import { ControlServer, type ControlServerOptions } from '../../supervisor/control/server.js';

/** The part of a tap test the helpers need. */
export type Cleanup = { teardown(fn: () => unknown): void };

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A handler with a plausible answer for every request kind; `overrides` replaces some. */
export function stubHandler(overrides: Partial<ControlHandler> = {}): ControlHandler {
  const base: ControlHandler = {
    addRule: async (r) => ({ rule: { ...r.rule, id: 1 }, application: { ruleId: 1, applied: ['eth0/0'], refused: [], unconfirmed: [], pending: [] }, warnings: [] }),
    removeRule: async () => ({ rule: { id: 1, inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [] } }),
    listRules: async () => ({ rules: [], generation: 0, problems: [] }),
    stats: async () => ({ rules: [], workers: [], inputs: [], outputInterfaces: [] }),
    workers: async () => ({ workers: [] }),
    logs: async () => ({ lines: [] }),
    events: async () => ({ events: [] }),
    logLevelGet: async () => ({ level: 'info', workers: [] }),
    logLevelSet: async (r) => ({ level: r.level, workers: 0 }),
    reload: async () => ({ file: 'f', added: 0, removed: 0, changed: 0, unchanged: 0, changes: [], problems: [], daemonNotApplied: [] }),
    save: async (r) => ({ file: r.file ?? 'default', rules: 0 }),
    check: async (r) => ({ file: r.file, rules: 0 }),
    ping: async () => ({ pid: process.pid, uptimeMs: 1 }),
    version: async () => ({ version: '0.1.0', node: process.version, protocol: 1 }),
    clear: async () => ({ ruleIds: [], inputs: [] }),
  };
  return { ...base, ...overrides };
}

/** A socket path in a fresh directory, removed at teardown. */
export async function socketPath(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcr-ctl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'mcrd.sock');
}

/** A connected client, closed at teardown. */
export async function connectClient(t: Cleanup, path: string): Promise<ControlClient> {
  const c = new ControlClient({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 });
  await c.connect(path);
  t.teardown(() => c.close());
  return c;
}

/** A listening server with `handler` on a fresh socket, and a factory for clients of it. */
export async function startControlServer(
  t: Cleanup,
  handler: ControlHandler,
  options: Partial<ControlServerOptions> = {},
): Promise<{ server: ControlServer; path: string; client: () => Promise<ControlClient> }> {
  const path = await socketPath(t);
  const server = new ControlServer({ path, handler, ...options });
  await server.listen();
  t.teardown(() => server.close());
  return { server, path, client: () => connectClient(t, path) };
}

/** Leaves a socket file nobody listens on at `path`, as a SIGKILLed mcrd would. */
export async function makeStaleSocket(path: string): Promise<void> {
  // process.exit skips closing the server, so the file stays behind.
  await promisify(execFile)(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.exit(0))", path], { timeout: 10_000 });
}
