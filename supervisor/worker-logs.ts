/**
 * Worker log capture: every line a worker prints (pino JSON) is tagged with
 * its worker id, interface, core and pid, kept in a bounded per-worker ring
 * for `mcrctl logs`, appended to <logDir>/<worker>.log when a log directory
 * is set, and offered to followers.
 * A log directory removed under mcrd is made again at the next line. A log
 * file that cannot be written (a full disk, a read-only directory) must
 * not stop the relay: the line still goes to the ring and
 * the followers, and the problem is reported once when it starts and once
 * when the file is writable again, with how many lines it missed. (An
 * uncaught append error used to end mcrd, and its workers with it.)
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorCode } from '../common/control-errors.js';
import type { LogLine } from '../proto/index.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
export const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** A level name's number, or undefined for any other name ('constructor', 'toString' included: `in` would find those on Object's prototype). */
export function levelValue(name: string): number | undefined {
  return Object.hasOwn(LEVEL_VALUES, name) ? LEVEL_VALUES[name] : undefined;
}
const RING_LINES = 1000;

/** A worker log file that stopped taking lines (`failing`, with the errno code), or took them again (`recovered`, with how many it missed). */
export type LogFileProblem =
  | { state: 'failing'; file: string; code: string; message: string }
  | { state: 'recovered'; file: string; missed: number };

/** mcrd's log lines for a log file's problems: the failure as an error with its code, the recovery with what the file missed. */
export function logFileProblemsTo(logger: Pick<Logger, 'error' | 'info'>): (p: LogFileProblem) => void {
  return (p) => {
    if (p.state === 'failing') {
      logger.error({ code: p.code, file: p.file, err: p.message }, 'cannot write a worker log file: relaying goes on and `mcrctl logs` still has the lines; ' +
        'free space or fix the log directory (--log-dir, daemon.logDir)');
    } else {
      logger.info({ file: p.file, missed: p.missed }, `worker log file writable again; ${p.missed} line${p.missed === 1 ? ' was' : 's were'} not written to it`);
    }
  };
}

export class WorkerLogs {
  private readonly rings = new Map<string, LogLine[]>();
  private readonly followers = new Set<(line: LogLine) => void>();
  /** Per log file that is failing: its error code and the lines it has missed. */
  private readonly failing = new Map<string, { code: string; missed: number }>();

  /** Creates `logDir` when given (throws with the errno code if it cannot). */
  constructor(private readonly logDir?: string, private readonly onFileProblem: (p: LogFileProblem) => void = () => undefined) {
    if (logDir !== undefined) mkdirSync(logDir, { recursive: true, mode: 0o755 });
  }

  record(worker: string, tags: Record<string, unknown>, raw: string): void {
    // A pino line is a JSON object; anything else (plain text, or JSON that
    // is not an object: an uncaught `throw null` prints `null`) is kept as
    // the message of a line of our own, never read as fields.
    let parsed: Record<string, unknown> | undefined;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) parsed = value as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    parsed ??= { level: 30, time: Date.now(), msg: raw };
    const tagged = { ...parsed, ...tags, worker };
    const line: LogLine = {
      worker,
      timeMs: typeof parsed.time === 'number' ? parsed.time : Date.now(),
      level: LEVEL_NAMES[Number(parsed.level)] ?? 'info',
      message: typeof parsed.msg === 'string' ? parsed.msg : '',
      json: JSON.stringify(tagged),
    };
    const ring = this.rings.get(worker) ?? [];
    ring.push(line);
    if (ring.length > RING_LINES) ring.splice(0, ring.length - RING_LINES);
    this.rings.set(worker, ring);
    if (this.logDir !== undefined) this.append(join(this.logDir, `${worker.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`), line.json);
    for (const follow of this.followers) follow(line);
  }

  private append(file: string, json: string): void {
    const was = this.failing.get(file);
    try {
      this.appendCreating(file, json + '\n');
    } catch (err) {
      const code = errorCode(err) ?? 'EIO';
      // Reported when it starts, and again only if the reason changes.
      if (was?.code !== code) this.onFileProblem({ state: 'failing', file, code, message: (err as Error).message });
      this.failing.set(file, { code, missed: (was?.missed ?? 0) + 1 });
      return;
    }
    if (was !== undefined) {
      this.failing.delete(file);
      this.onFileProblem({ state: 'recovered', file, missed: was.missed });
    }
  }

  /** Appends; a log directory removed under mcrd (a clean-up of /var/log) is made again, once per line at most. */
  private appendCreating(file: string, text: string): void {
    try {
      appendFileSync(file, text);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || this.logDir === undefined) throw err;
      mkdirSync(this.logDir, { recursive: true, mode: 0o755 });
      appendFileSync(file, text);
    }
  }

  recent(worker: string | undefined, minLevel: number, lines: number): LogLine[] {
    const all = worker !== undefined ? (this.rings.get(worker) ?? []) : [...this.rings.values()].flat().sort((a, b) => a.timeMs - b.timeMs);
    return all.filter((l) => (LEVEL_VALUES[l.level] ?? 30) >= minLevel).slice(-lines);
  }

  follow(listener: (line: LogLine) => void): () => void {
    this.followers.add(listener);
    return () => this.followers.delete(listener);
  }
}
