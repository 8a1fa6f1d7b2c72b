/**
 * The soak's fault schedule (bench/soak/schedule.ts, rng.ts): one seed
 * gives one plan, another seed another; epochs stay within 10–30 s with a
 * steady lead of at least 3 s and at most a third of the epoch; kinds come
 * in shuffled rounds so every kind appears once per round; the plan covers
 * the duration; `--faults` parsing and target picking.
 */
import t from 'tap';
import { SeededRandom } from '../../bench/soak/rng.js';
import { FAULT_KINDS, MIN_STEADY_SEC, parseKinds, pickOne, planFaults } from '../../bench/soak/schedule.js';

t.test('the same seed gives the same plan; another seed another', async (t) => {
  const a = planFaults({ seed: 42, durationSec: 600, kinds: FAULT_KINDS });
  const b = planFaults({ seed: 42, durationSec: 600, kinds: FAULT_KINDS });
  const c = planFaults({ seed: 43, durationSec: 600, kinds: FAULT_KINDS });
  t.same(a, b, 'replayable');
  t.not(JSON.stringify(a), JSON.stringify(c), 'seed 43 differs from seed 42');
});

t.test('epochs, leads and holds stay in their bounds; the plan covers the duration', async (t) => {
  for (const seed of [1, 2, 3, 0xffffffff]) {
    const plan = planFaults({ seed, durationSec: 1800, kinds: FAULT_KINDS });
    const total = plan.reduce((n, p) => n + p.epochSec, 0);
    t.ok(total >= 1800, `seed ${seed}: ${total} s of epochs cover 1800 s`);
    t.ok(total - (plan[plan.length - 1]?.epochSec ?? 0) < 1800, 'and no epoch is planned after the end');
    for (const p of plan) {
      if (p.epochSec < 10 || p.epochSec > 30) t.fail(`epoch ${p.index} is ${p.epochSec} s`);
      if (p.leadSec < MIN_STEADY_SEC || p.leadSec > Math.max(MIN_STEADY_SEC, p.epochSec / 3) + 0.05) t.fail(`lead ${p.leadSec} s of a ${p.epochSec} s epoch`);
      if (p.pick < 0 || p.pick >= 1) t.fail(`pick ${p.pick}`);
      if (p.kind === 'worker-stop' && p.holdMs !== 5000) t.fail('a stop holds 5 s (the watchdog has 1.5 s to act)');
      if (p.kind !== 'worker-stop' && (p.holdMs < 1000 || p.holdMs > 3000)) t.fail(`hold ${p.holdMs} ms`);
      if (p.kind === 'rule-churn' && (p.size < 1 || p.size > 3)) t.fail(`churn of ${p.size} cycles`);
      if (p.kind === 'control-burst' && (p.size < 50 || p.size > 200)) t.fail(`burst of ${p.size} clients`);
    }
  }
  t.pass('bounds held for four seeds');
});

t.test('every kind once per round, in a shuffled order', async (t) => {
  const plan = planFaults({ seed: 7, durationSec: 3600, kinds: FAULT_KINDS });
  const n = FAULT_KINDS.length;
  const rounds = Math.floor(plan.length / n);
  t.ok(rounds >= 3, `${rounds} full rounds in an hour`);
  const orders = new Set<string>();
  for (let r = 0; r < rounds; r++) {
    const round = plan.slice(r * n, (r + 1) * n).map((p) => p.kind);
    t.same([...round].sort(), [...FAULT_KINDS].sort(), `round ${r} has each kind once`);
    orders.add(round.join(','));
  }
  t.ok(orders.size > 1, 'rounds are not all in the same order');
});

t.test('a 10-minute run meets every kind at least twice', async (t) => {
  for (const seed of [11, 12, 13]) {
    const plan = planFaults({ seed, durationSec: 600, kinds: FAULT_KINDS });
    for (const kind of FAULT_KINDS) {
      const seen = plan.filter((p) => p.kind === kind).length;
      if (seen < 2) t.fail(`seed ${seed}: ${kind} planned ${seen} times`);
    }
  }
  t.pass('checked three seeds');
});

t.test('bad bounds and empty kind lists are refused', async (t) => {
  t.throws(() => planFaults({ seed: 1, durationSec: 60, kinds: [] }), RangeError);
  t.throws(() => planFaults({ seed: 1, durationSec: 60, kinds: FAULT_KINDS, minEpochSec: 5 }), RangeError, 'no room for two steady phases');
  t.throws(() => planFaults({ seed: 1, durationSec: 60, kinds: FAULT_KINDS, minEpochSec: 20, maxEpochSec: 10 }), RangeError);
});

t.test('--faults: all, none, a list; unknown kinds are named', async (t) => {
  t.same(parseKinds('all'), [...FAULT_KINDS]);
  t.same(parseKinds('none'), ['none']);
  t.same(parseKinds('worker-kill, output-mtu'), ['worker-kill', 'output-mtu']);
  t.throws(() => parseKinds('worker-kill,meteor'), /unknown fault kind "meteor"/);
  t.throws(() => parseKinds(','), /names no kind/);
});

t.test('pickOne spreads a draw in [0, 1) over the items', async (t) => {
  t.equal(pickOne(['a', 'b', 'c'], 0), 'a');
  t.equal(pickOne(['a', 'b', 'c'], 0.34), 'b');
  t.equal(pickOne(['a', 'b', 'c'], 0.999999), 'c');
  t.equal(pickOne([], 0.5), undefined);
});

t.test('the generator: uniform-looking, in range, deterministic', async (t) => {
  const r = new SeededRandom(5);
  const draws = Array.from({ length: 10_000 }, () => r.next());
  t.ok(draws.every((x) => x >= 0 && x < 1), 'in [0, 1)');
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  t.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean.toFixed(3)} near 0.5`);
  const ints = Array.from({ length: 1000 }, () => r.int(3, 5));
  t.same([...new Set(ints)].sort(), [3, 4, 5], 'int() reaches both ends');
  t.same(new SeededRandom(9).shuffle([1, 2, 3, 4, 5]), new SeededRandom(9).shuffle([1, 2, 3, 4, 5]), 'shuffle is seeded');
});
