/**
 * Per-worker-slot series: restarts since mcrd started, and the slot's state
 * as one 0/1 series per state (the usual Prometheus way to export an enum:
 * `mcr_worker_state{state="running"} == 1` selects running workers, and
 * every state has a series, so a slot leaving a state shows as a 0, not a
 * gap). Labels: worker (the slot, "eth1/0"), input (its interface).
 * And one info series per slot with a ready worker, `mcr_worker_loop_info`
 * (value 1), whose labels say how its loop runs (mcrctl workers' LOOP
 * column): ingress, the scheduler slice in force and why the short one was
 * refused, the SCHED_FIFO priority, DEFER_TASKRUN, and whether its sleeps
 * stay out of iowait.
 * And for a worker whose stats answer has them, its real-time loop's step
 * downs (`--loop-rt-priority`, native/core/realtime_guard.h): how many, and
 * whether it is stepped down now, so an alert can find a loop that its
 * input floods.
 */
import { PREFIX, type GroupContext, type MetricGroup } from './metric-group.js';
import { NO_LABELS, SeriesCounter, SeriesGauge, type LabelSet, type Series } from './series-metric.js';
import type { Fleet } from '../fleet/fleet.js';
import type { MetricsSnapshot } from './snapshot.js';

type SlotState = Awaited<ReturnType<Fleet['counters']>>[number]['state'];
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;

/** Every state a slot can be in (docs/mcrd.md); the check below fails the build when the fleet gains one. */
export const WORKER_STATES = ['waiting', 'starting', 'running', 'restarting', 'stopping'] as const;
const everyState: Exactly<SlotState, (typeof WORKER_STATES)[number]> = true;
void everyState;

const stateLabels = new Map<string, LabelSet>(WORKER_STATES.map((state) => [state, Object.freeze({ state })]));

export class WorkerMetrics implements MetricGroup {
  readonly #restarts: SeriesCounter<string>;
  readonly #state: SeriesGauge<string>;
  readonly #loop: SeriesGauge<string>;
  readonly #stepDowns: SeriesCounter<string>;
  readonly #steppedDown: SeriesGauge<string>;

  constructor({ registry }: GroupContext) {
    const registers = [registry];
    this.#restarts = new SeriesCounter({ name: `${PREFIX}worker_restarts_total`, help: 'Times mcrd restarted this worker slot since mcrd started.',
      labelNames: ['worker', 'input'], registers });
    this.#state = new SeriesGauge({ name: `${PREFIX}worker_state`,
      help: 'The worker slot is in this state (1) or not (0): waiting (for its interface), starting, running, restarting (backoff after an exit), stopping.',
      labelNames: ['worker', 'input', 'state'], registers });
    this.#loop = new SeriesGauge({ name: `${PREFIX}worker_loop_info`,
      help: 'How the worker\'s relay loop runs (always 1): ingress, slice_us (the scheduler slice in force; 0 = the kernel\'s), ' +
        'slice_refused (the errno when the default short slice was refused, else empty), rt_priority (SCHED_FIFO in force; 0 = normal), ' +
        'rt_refused (the errno when the default\'s SCHED_FIFO was refused under a real-time limit, else empty), ' +
        'defer_taskrun and no_iowait (its sleeps kept out of iowait, Linux 6.15).',
      labelNames: ['worker', 'input', 'ingress', 'slice_us', 'slice_refused', 'rt_priority', 'rt_refused', 'defer_taskrun', 'no_iowait'], registers });
    this.#stepDowns = new SeriesCounter({ name: `${PREFIX}worker_loop_rt_stepdowns_total`,
      help: 'Times the worker\'s real-time loop (--loop-rt-priority) stepped down to the normal policy after needing 90 % of its core for 100 ms (the worker\'s loop counter rt_stepdowns; a new worker starts at 0).',
      labelNames: ['worker', 'input'], registers });
    this.#steppedDown = new SeriesGauge({ name: `${PREFIX}worker_loop_rt_stepped_down`,
      help: 'The worker\'s real-time loop is stepped down to the normal policy now (1) or not (0) (its loop gauge rt_stepped_down).',
      labelNames: ['worker', 'input'], registers });
  }

  update(s: MetricsSnapshot): void {
    const restarts: Series[] = [];
    const states: Series[] = [];
    const loops: Series[] = [];
    const stepDowns: Series[] = [];
    const steppedDown: Series[] = [];
    const counters = new Map(s.stats.workers.map((w) => [w.worker, w.loop]));
    for (const w of s.workers) {
      const labels = Object.freeze({ worker: w.id, input: w.interface });
      restarts.push({ value: w.restarts, sharedLabels: labels, labels: NO_LABELS });
      for (const [state, l] of stateLabels) states.push({ value: w.state === state ? 1 : 0, sharedLabels: labels, labels: l });
      // A state this build does not list (a newer fleet): shown rather than hidden.
      if (!stateLabels.has(w.state)) states.push({ value: 1, sharedLabels: labels, labels: Object.freeze({ state: w.state }) });
      const l = w.loop;
      if (l !== undefined) {
        loops.push({ value: 1, sharedLabels: labels, labels: Object.freeze({
          ingress: l.ingress, slice_us: String(l.sliceUs), slice_refused: l.sliceRefused ?? '', rt_priority: String(l.rtPriority), rt_refused: l.rtRefused ?? '',
          defer_taskrun: String(l.deferTaskrun), no_iowait: String(l.noIowait),
        }) });
      }
      const c = counters.get(w.id);
      if (c?.rt_stepdowns !== undefined) stepDowns.push({ value: Number(c.rt_stepdowns), sharedLabels: labels, labels: NO_LABELS });
      if (c?.rt_stepped_down !== undefined) steppedDown.push({ value: Number(c.rt_stepped_down), sharedLabels: labels, labels: NO_LABELS });
    }
    this.#restarts.replace(restarts);
    this.#state.replace(states);
    this.#loop.replace(loops);
    this.#stepDowns.replace(stepDowns);
    this.#steppedDown.replace(steppedDown);
  }
}
