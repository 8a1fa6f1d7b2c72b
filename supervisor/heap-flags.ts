/**
 * mcrd's V8 young generation, fixed in size from the start: which argv
 * mcrd execs itself with (heap-reexec.ts, imported first by mcrd.ts) when
 * node was not given `--max-semi-space-size`. The exec keeps the PID and
 * the descriptors, so a service manager or a test that spawned mcrd sees
 * nothing change; it is needed because V8 reads the flag only when it
 * creates the heap.
 *
 * Why: V8 doubles the young generation (from 1 MB per semi-space up to
 * 16 MB) each time enough bytes have survived scavenges since the last
 * growth, and never gives it back while the process is busy. mcrd
 * allocates steadily (every control request, worker reply and stats pass)
 * with a small, constant live heap (10-11.6 MB after a full GC over 4 000
 * rule add/remove cycles, no constructor's count growing), so its RSS crept
 * up for tens of minutes (+13 % from minute 2 to 24 of a 30-minute soak;
 * 66 -> 108 MB over 1 700 add/remove cycles) and then stood still: sizing,
 * not a leak, but a supervisor's memory must be flat to be watched. With
 * the semi-space held at 1 MB the young generation never grows; a scavenge
 * of 1 MB costs well under a millisecond and mcrd is on no packet's path.
 * Measurements: bench/mcrd-memory.ts, docs/reliability.md (Soak).
 *
 * MCRD_SEMI_SPACE_MB=0 in the environment skips it (node's own sizing).
 */

export const SEMI_SPACE_FLAG = '--max-semi-space-size';
export const DEFAULT_SEMI_SPACE_MB = 1;

/** The argv to exec for the flag, or undefined when node already has it or it is turned off. */
export function heapReexecArgv(o: { execPath: string; execArgv: readonly string[]; argv: readonly string[]; env: NodeJS.ProcessEnv }): string[] | undefined {
  if (o.execArgv.some((a) => a === SEMI_SPACE_FLAG || a.startsWith(`${SEMI_SPACE_FLAG}=`))) return undefined;
  const setting = o.env.MCRD_SEMI_SPACE_MB;
  const mb = setting === undefined || setting === '' ? DEFAULT_SEMI_SPACE_MB : Number(setting);
  if (!Number.isInteger(mb) || mb <= 0) return undefined;
  return [o.execPath, `${SEMI_SPACE_FLAG}=${mb}`, ...o.execArgv, ...o.argv.slice(1)];
}
