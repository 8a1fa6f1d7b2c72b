/**
 * Worker log capture: every line a worker prints (pino JSON) is tagged with
 * its worker id, interface, core and pid, kept in a bounded per-worker ring
 * for `mcrctl logs`, appended to <logDir>/<worker>.log when a log directory
 * is set, and offered to followers.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine } from '../proto/index.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
export const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const RING_LINES = 1000;

export class WorkerLogs {
  private readonly rings = new Map<string, LogLine[]>();
  private readonly followers = new Set<(line: LogLine) => void>();

  constructor(private readonly logDir?: string) {
    if (logDir !== undefined) mkdirSync(logDir, { recursive: true, mode: 0o755 });
  }

  record(worker: string, tags: Record<string, unknown>, raw: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      parsed = { level: 30, time: Date.now(), msg: raw };
    }
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
    if (this.logDir !== undefined) appendFileSync(join(this.logDir, `${worker.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`), line.json + '\n');
    for (const follow of this.followers) follow(line);
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
