/**
 * Shared steps of the tests that run the real mcrd in a relay lab: start it
 * (waiting for its ready line), run the built `mcrctl` bin against its
 * socket, ask for its workers, read what /proc says about a process and
 * wait for processes to be gone.
 * mcrctl runs in the test's own namespace: a Unix socket path is reached
 * through the filesystem, which the lab's network namespaces share.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { createRelayLab, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { ControlClient } from '../../common/control-client.js';
import type { WorkerInfo } from '../../proto/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { ROOT } from './harness.js';

export const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');

/** A relay lab and a scratch directory (socket, config files), both removed when the test ends, even on failure. */
export async function mcrdLab(t: { teardown(fn: () => unknown): void }, tag: string, opts: { outputs?: number } = {}): Promise<{ rl: RelayLab; dir: string }> {
  const rl = await createRelayLab({ tag, ...opts });
  const dir = mkdtempSync(join(tmpdir(), `mcrd-${tag}-`));
  t.teardown(async () => {
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  return { rl, dir };
}
export const MCRCTL = join(ROOT, 'dist', 'tools', 'mcrctl.js');

/**
 * Starts mcrd in the relay namespace and resolves once it logged "mcrd
 * ready". With `umask` (octal digits), mcrd runs under that file mode mask:
 * through `sh`, which sets it and then execs node in its place, so the PID
 * is still mcrd's.
 */
export async function startMcrd(rl: RelayLab, args: string[], opts: { umask?: string } = {}): Promise<LabProcess> {
  const mcrd = opts.umask === undefined
    ? rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, ...args])
    : rl.lab.spawn(rl.relay.ns, 'sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, MCRD, ...args]);
  // A bound, not a timing claim: ready takes ~1 s on a quiet host, and
  // mcrd's start (node, the addon, every worker's fork and first sync) took
  // over 15 s on a host at load 20.
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  return mcrd;
}

export interface McrctlResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `mcrctl --socket SOCKET ...args` to completion (bounded). */
export async function mcrctl(socket: string, args: string[], opts: { cwd?: string } = {}): Promise<McrctlResult> {
  const r = await execa(process.execPath, [MCRCTL, '--socket', socket, ...args], {
    reject: false, timeout: 20_000, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** `mcrctl --json ...args`, parsed; throws with mcrctl's error line when it fails. */
export async function mcrctlJson<T>(socket: string, args: string[]): Promise<T> {
  const r = await mcrctl(socket, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`mcrctl ${args.join(' ')} exited ${String(r.exitCode)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A control client connected to mcrd's socket, closed when the test ends. */
export async function connectClient(t: { teardown(fn: () => unknown): void }, socket: string): Promise<ControlClient> {
  const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 10_000 });
  await client.connect(socket);
  t.teardown(() => client.close());
  return client;
}

/** mcrd's worker slots, over one short-lived control connection. */
export async function workersOf(socket: string): Promise<WorkerInfo[]> {
  const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 10_000 });
  await client.connect(socket);
  try {
    return (await client.request({ kind: 'workers' })).workers;
  } finally {
    client.close();
  }
}

/** The pid of the first running worker, once there is one (0 if none runs within `timeoutMs`). */
export async function runningWorkerPid(socket: string, timeoutMs: number): Promise<number> {
  let pid = 0;
  await pollUntil(async () => (pid = (await workersOf(socket).catch(() => [])).find((w) => w.state === 'running' && w.pid > 0)?.pid ?? 0) > 0,
    timeoutMs, 200);
  return pid;
}

/** Whether a process with this PID exists (signal 0: nothing is sent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true once none of `pids` exists, false if one still does after `timeoutMs`. */
export function pidsGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  return pollUntil(async () => pids.every((pid) => !pidAlive(pid)), timeoutMs);
}

/** Whether this process holds CAP_SYS_NICE (bit 23 of CapEff), which mcrd passes on to a worker until it drops root. */
/**
 * Flags that keep a loop under the normal policy where this host grants a
 * real-time limit (RLIMIT_RTPRIO), under which `--loop-rt-priority auto`,
 * the default of mcrd and mcr-relay, would run it SCHED_FIFO: for tests
 * that measure the normal policy's behaviour (its slice, contention,
 * moderation). Empty where the limit is 0, as on this project's machines.
 */
export const NORMAL_POLICY: readonly string[] = rtprioLimit() > 0 ? ['--loop-rt-priority', '0'] : [];

/** This process's RLIMIT_RTPRIO soft limit, read here apart from the code under test (mcrd and mcr-relay inherit it). */
export function rtprioLimit(): number {
  const text = /^Max realtime priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '0';
  return text === 'unlimited' ? 99 : Number(text);
}

export function hasSysNice(): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${capEff}`) & (1n << 23n)) !== 0n;
}

/** One field of /proc/PID/status ("Uid", "CapEff", ...), whitespace-normalised. */
export function procStatus(pid: number, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return m[1].trim().split(/\s+/).join(' ');
}

/** The open fds of a process as "fd -> target" lines, sorted by fd. */
export function openFds(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map(Number).sort((a, b) => a - b).map((fd) => {
    let target: string;
    try {
      target = readlinkSync(join(dir, String(fd)));
    } catch {
      target = '(closed while listing)';
    }
    return `${fd} -> ${target}`;
  });
}

/** uid of a user name, from /etc/passwd (the lab machine's own users). */
export function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  const uid = line?.split(':')[2];
  if (uid === undefined) throw new Error(`no user ${user} in /etc/passwd`);
  return Number(uid);
}
