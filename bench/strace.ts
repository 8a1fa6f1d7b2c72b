/**
 * Counts the system calls a running process makes in a short window with
 * `strace -c -f -p PID`, all threads included (the relay's native loop
 * thread and Node's own). strace stops at SIGINT from timeout(1), detaches
 * and prints its summary table on stderr, which is parsed here. ptrace slows
 * every traced call, so the window's packet rate is lower than untraced;
 * what is meaningful is calls per packet, not time.
 */
import type { BenchLab } from './bench-lab.js';
import { BenchError } from './errors.js';

export interface SyscallCount {
  syscall: string;
  calls: number;
  errors: number;
}

export interface StraceSummary {
  totalCalls: number;
  bySyscall: SyscallCount[];
}

export async function straceWindow(bl: BenchLab, pid: number, seconds: number): Promise<StraceSummary> {
  const args = ['-s', 'INT', String(seconds), 'strace', '-c', '-f', '-p', String(pid)];
  // In the relay namespace like everything else the lab runs; -p works across namespaces anyway.
  const r = await bl.rl.lab.exec(bl.rl.relay.ns, 'timeout', args, { reject: false, timeoutMs: seconds * 1000 + 10_000 });
  if (/Operation not permitted|No such process/.test(r.stderr)) {
    throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `strace could not attach to ${pid}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
  return parseStraceSummary(r.stderr);
}

/** Rows look like " 98.50    0.012000          12      1000        3 io_uring_enter" (errors may be blank). */
export function parseStraceSummary(text: string): StraceSummary {
  const bySyscall: SyscallCount[] = [];
  let totalCalls = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*\d+\.\d+\s+\d+\.\d+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\S+)\s*$/.exec(line);
    if (m === null) continue;
    const calls = Number(m[1]);
    const errors = Number(m[2] ?? 0);
    const syscall = m[3] ?? '';
    if (syscall === 'total') totalCalls = calls;
    else bySyscall.push({ syscall, calls, errors });
  }
  if (totalCalls === 0) totalCalls = bySyscall.reduce((a, s) => a + s.calls, 0);
  return { totalCalls, bySyscall: bySyscall.sort((a, b) => b.calls - a.calls) };
}
