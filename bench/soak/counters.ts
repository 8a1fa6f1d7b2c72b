/**
 * MCR's counters as the soak samples them (one `stats`, `workers` and
 * `list` over the control socket, the same answers `mcrctl --json` prints),
 * and the pure arithmetic over a series of samples: deltas of the workers'
 * loop counters across a phase, deltas of the per-rule counters, and every
 * place a counter went backwards, with its cause.
 *
 * What exists (mcrctl stats --json): per rule `packets`/`bytes` (matched)
 * and per output `packets`/`bytes`/`errors` (one sum over errnos), summed
 * over the workers; per worker `received`, `kernelDrops`, `restarts` and
 * `loop`, every loop counter of native/core/counters.h by name (frames,
 * matched, no_rule, drop_* by reason, kernel_drops, sends_queued, sent,
 * send_errors, ...); per output also `errorsByErrno`. mcrd keeps the
 * per-rule and per-output totals across worker restarts, crashes and
 * resyncs (supervisor/stats/counter-ledger.ts), so none of them ever goes
 * back: a step backwards is a failure whatever happened around it. The
 * exact accounting uses the loop counters, per worker process (pid),
 * because the kernel's ring drops are counted per input socket, not per
 * rule.
 */

export interface RuleSample {
  id: number;
  name: string;
  packets: number;
  /** errorsByErrno as mcrd reports it (absent in samples of older mcrd builds). */
  outputs: Array<{ packets: number; errors: number; errorsByErrno?: Record<string, number> }>;
}

export interface WorkerSample {
  id: string;
  iface: string;
  pid: number;
  state: string;
  restarts: number;
  /** Loop counters; absent while the slot is not running. */
  loop: Record<string, number> | undefined;
}

export interface CounterSample {
  /** ms since the soak started. */
  atMs: number;
  rules: RuleSample[];
  workers: WorkerSample[];
}

/** Loop counters the accounting reads. */
/**
 * Loop fields that are gauges, not counters (native/core/counters.h): the
 * sends and buffers in flight now, and the loop's busy share of its last
 * window in permille (poll_policy.h). They rise and fall by design, so the
 * accounting never sums their growth and backwardEvents() never reports
 * their falls.
 */
export const LOOP_GAUGES: ReadonlySet<string> = new Set(['inflight_sends', 'inflight_buffers', 'busy_permille', 'rt_stepped_down']);

export const LOOP_KEYS = ['frames', 'matched', 'no_rule', 'kernel_drops', 'sends_queued', 'sent', 'send_errors', 'inflight_sends'] as const;
export const MALFORMED_PREFIX = 'drop_';

export interface LoopDelta {
  /** Sum over the workers of the interface of each counter's growth. */
  values: Record<string, number>;
  /** Workers whose process changed within the range (their old process's last growth is not in `values`). */
  restarted: string[];
}

/**
 * Growth of the loop counters of `iface`'s workers between samples[from]
 * and samples[to] (inclusive indices), walking every sample between so a
 * process change is seen: a new pid contributes from 0. A process that
 * ended within the range (its slot shows another pid, or none) and logged
 * its final counters (`finals`, by pid: a worker stopped cleanly, e.g.
 * parked when its input went down) contributes up to those instead of its
 * last sample: what it counted after that sample is not lost to the sum.
 */
export function loopDelta(samples: readonly CounterSample[], from: number, to: number, iface: string,
  finals?: ReadonlyMap<number, Record<string, number>>): LoopDelta {
  const values: Record<string, number> = {};
  const restarted = new Set<string>();
  const last = new Map<string, { pid: number; loop: Record<string, number> }>();
  const add = (key: string, grow: number): void => {
    if (LOOP_GAUGES.has(key)) return;
    // A loop counter never falls within one process; backwardEvents() reports it if it does.
    if (grow > 0) values[key] = (values[key] ?? 0) + grow;
  };
  const settle = (prev: { pid: number; loop: Record<string, number> }): void => {
    const final = finals?.get(prev.pid);
    if (final === undefined) return;
    for (const [key, v] of Object.entries(final)) add(key, v - (prev.loop[key] ?? 0));
  };
  for (let i = from; i <= to; i++) {
    const s = samples[i];
    if (s === undefined) continue;
    for (const w of s.workers) {
      if (w.iface !== iface) continue;
      const prev = last.get(w.id);
      const running = w.loop !== undefined && w.pid > 0;
      if (prev !== undefined && (!running || prev.pid !== w.pid) && i > from) {
        settle(prev);
        last.delete(w.id);
      }
      if (!running || w.loop === undefined) continue;
      // A slot first seen after the range began has a process started within it: it counts from 0.
      if (i > from) {
        const renewed = prev === undefined || prev.pid !== w.pid;
        if (renewed) restarted.add(w.id);
        for (const [key, v] of Object.entries(w.loop)) add(key, renewed || prev === undefined ? v : v - (prev.loop[key] ?? 0));
      }
      last.set(w.id, { pid: w.pid, loop: w.loop });
    }
  }
  for (const key of Object.keys(values)) if (values[key] === 0) delete values[key];
  return { values, restarted: [...restarted] };
}

/** Final loop counters by worker pid, from the "worker stopped: final counters" lines in mcrd's log. */
export function finalCounters(lines: readonly string[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const line of lines) {
    if (!line.includes('worker stopped: final counters')) continue;
    try {
      const j = JSON.parse(line) as { pid?: number; counters?: Record<string, number> };
      if (typeof j.pid === 'number' && j.counters !== undefined) out.set(j.pid, j.counters);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

/** Sum of the malformed-frame counters (drop_*) in a loop delta. */
export function malformedOf(values: Record<string, number>): number {
  return Object.entries(values).filter(([k]) => k.startsWith(MALFORMED_PREFIX)).reduce((n, [, v]) => n + v, 0);
}

export interface RuleDelta {
  /** Growth of the rule's matched packets, or undefined when a counter fell within the range. */
  packets: number | undefined;
  outputs: Array<{ packets: number | undefined; errors: number | undefined }>;
}

/** Per-rule growth between samples[from] and samples[to] of the rule named `name`, undefined where it reset. */
export function ruleDelta(samples: readonly CounterSample[], from: number, to: number, name: string): RuleDelta | undefined {
  const series: RuleSample[] = [];
  for (let i = from; i <= to; i++) {
    const r = samples[i]?.rules.find((x) => x.name === name);
    if (r !== undefined) series.push(r);
  }
  const first = series[0];
  const lastR = series[series.length - 1];
  if (first === undefined || lastR === undefined || first.id !== lastR.id) return undefined;
  const grow = (get: (r: RuleSample) => number | undefined): number | undefined => {
    let prev: number | undefined;
    for (const r of series) {
      const v = get(r);
      if (v === undefined) return undefined;
      if (prev !== undefined && v < prev) return undefined;
      prev = v;
    }
    const a = get(first);
    const b = get(lastR);
    return a === undefined || b === undefined ? undefined : b - a;
  };
  return {
    packets: grow((r) => r.packets),
    outputs: first.outputs.map((_, i) => ({ packets: grow((r) => r.outputs[i]?.packets), errors: grow((r) => r.outputs[i]?.errors) })),
  };
}

/** How long before a counter fell a PID change of its interface still explains it, ms. */
export const RESTART_LOOKBACK_MS = 5000;

/**
 * Send errors by errno name that grew between two times, summed over every
 * rule output: a fall (a reset) counts the new value as growth from 0, so
 * what grew between the last sample and a reset is missing (a lower bound).
 */
export function errnoGrowth(samples: readonly CounterSample[], fromMs: number, toMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  let prev: CounterSample | undefined;
  for (const s of samples) {
    if (s.atMs < fromMs || s.atMs > toMs) continue;
    if (prev !== undefined) {
      for (const r of s.rules) {
        const old = prev.rules.find((x) => x.id === r.id);
        r.outputs.forEach((o, k) => {
          for (const [errno, v] of Object.entries(o.errorsByErrno ?? {})) {
            const before = old?.outputs[k]?.errorsByErrno?.[errno] ?? 0;
            const grow = v >= before ? v - before : v;
            if (grow > 0) out[errno] = (out[errno] ?? 0) + grow;
          }
        });
      }
    }
    prev = s;
  }
  return out;
}

/** What was going on when a counter went backwards (each is a failure; the cause is for the diagnosis). */
export type BackwardCause = 'worker restart' | 'during a fault' | 'unexplained';

export interface BackwardEvent {
  atMs: number;
  counter: string;
  from: number;
  to: number;
  cause: BackwardCause;
  /** The fault whose phase contains the event, if any. */
  fault?: string;
}

/** A time range in which a fault was active (its phase), for telling resets during faults from unexplained ones. */
export interface FaultWindow {
  label: string;
  startMs: number;
  endMs: number;
}

/**
 * Every counter that went backwards between consecutive samples: per-rule
 * counters (cause: a worker of the rule's interface changed pid → restart;
 * else inside a fault window → during a fault; else unexplained) and loop
 * counters within one process (unexplained). Every event is a failure.
 */
export function backwardEvents(samples: readonly CounterSample[], windows: readonly FaultWindow[], ruleIface: (name: string) => string | undefined): BackwardEvent[] {
  const events: BackwardEvent[] = [];
  const windowAt = (from: number, to: number): FaultWindow | undefined => windows.find((w) => w.startMs <= to && w.endMs >= from);
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (a === undefined || b === undefined) continue;
    // mcrd reports a new process's counters a sample or two after its PID (the
    // first ping may come later), so a PID change shortly before counts too.
    const restartedIfaces = new Set<string>();
    for (let k = i; k >= 1; k--) {
      const x = samples[k - 1];
      const y = samples[k];
      if (x === undefined || y === undefined || b.atMs - y.atMs > RESTART_LOOKBACK_MS) break;
      for (const w of y.workers) {
        const old = x.workers.find((v) => v.id === w.id);
        if (old !== undefined && old.pid !== w.pid) restartedIfaces.add(w.iface);
      }
    }
    const cause = (iface: string | undefined): { cause: BackwardCause; fault?: string } => {
      const win = windowAt(a.atMs, b.atMs);
      if (iface !== undefined && restartedIfaces.has(iface)) return { cause: 'worker restart', ...(win ? { fault: win.label } : {}) };
      if (win !== undefined) return { cause: 'during a fault', fault: win.label };
      return { cause: 'unexplained' };
    };
    for (const r of b.rules) {
      const old = a.rules.find((x) => x.id === r.id);
      if (old === undefined) continue;
      const check = (counter: string, from: number, to: number): void => {
        if (to < from) events.push({ atMs: b.atMs, counter, from, to, ...cause(ruleIface(r.name)) });
      };
      check(`rule ${r.name} packets`, old.packets, r.packets);
      r.outputs.forEach((o, k) => {
        const p = old.outputs[k];
        if (p === undefined) return;
        check(`rule ${r.name} output ${k} packets`, p.packets, o.packets);
        check(`rule ${r.name} output ${k} errors`, p.errors, o.errors);
      });
    }
    for (const w of b.workers) {
      const old = a.workers.find((x) => x.id === w.id);
      if (old?.loop === undefined || w.loop === undefined || old.pid !== w.pid) continue;
      for (const [key, v] of Object.entries(w.loop)) {
        if (LOOP_GAUGES.has(key)) continue;
        const p = old.loop[key];
        if (p !== undefined && v < p) events.push({ atMs: b.atMs, counter: `worker ${w.id} (pid ${w.pid}) ${key}`, from: p, to: v, cause: 'unexplained' });
      }
    }
  }
  return events;
}
