/**
 * Failed group joins tried again on their own (supervisor/net/join-retry.ts):
 * a retry 1 s after a failure, doubling to at most 60 s while they fail,
 * none once they succeed (and the delay back to 1 s), one timer at a time
 * however often rules change meanwhile, none after stop().
 */
import t from 'tap';
import { FIRST_RETRY_MS, JoinRetry, MAX_RETRY_MS } from '../../supervisor/net/join-retry.js';

function logger() {
  const lines: string[] = [];
  return { lines, log: { warn: (_f: object, m?: string) => void lines.push(`warn ${m ?? ''}`), info: (m: string) => void lines.push(`info ${m}`) } };
}

t.test('retries with doubling backoff while joins fail, stops once they succeed', async (t) => {
  const failures = [2, 2, 1, 0];
  let calls = 0;
  const { lines, log } = logger();
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const realSet = globalThis.setTimeout;
  // Timers captured, fired by hand: no waiting in the test.
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    timers.push({ fn, ms });
    return { unref() { return this; } } as unknown as NodeJS.Timeout;
  }) as typeof setTimeout;
  t.teardown(() => { globalThis.setTimeout = realSet; });
  const r = new JoinRetry(() => failures[calls++] ?? 0, log as never);
  r.run();
  t.equal(calls, 1);
  t.same(timers.map((x) => x.ms), [FIRST_RETRY_MS], 'a retry in 1 s');
  r.run();
  t.equal(timers.length, 1, 'a rule change meanwhile applies at once but adds no second timer');
  t.equal(calls, 2);
  timers.shift()?.fn();
  t.same(timers.map((x) => x.ms), [2 * FIRST_RETRY_MS], 'still failing: 2 s');
  timers.shift()?.fn();
  t.equal(calls, 4);
  t.same(timers, [], 'succeeded: no more retries');
  t.equal(r.nextDelayMs, FIRST_RETRY_MS, 'and the delay back to 1 s');
  t.ok(lines.some((l) => l === 'info no group join fails any more (joined, or no longer wanted)'), 'the recovery logged');
});

t.test('the delay stops at 60 s; stop() ends the retries', async (t) => {
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    timers.push({ fn, ms });
    return { unref() { return this; } } as unknown as NodeJS.Timeout;
  }) as typeof setTimeout;
  globalThis.clearTimeout = (() => undefined) as typeof clearTimeout;
  t.teardown(() => { globalThis.setTimeout = realSet; globalThis.clearTimeout = realClear; });
  const { log } = logger();
  let calls = 0;
  const r = new JoinRetry(() => { calls++; return 1; }, log as never);
  r.run();
  for (let i = 0; i < 10; i++) timers.shift()?.fn();
  t.equal(timers[0]?.ms, MAX_RETRY_MS, 'capped at 60 s');
  r.stop();
  timers.shift()?.fn();
  t.equal(timers.length, 0, 'no retry after stop');
  const before = calls;
  r.run();
  t.equal(calls, before, 'and run() does nothing');
});
