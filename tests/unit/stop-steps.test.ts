/**
 * mcrd's stop sequence (supervisor/stop-steps.ts): every step runs, in
 * order, awaited, even after one throws or rejects; each failure is logged
 * with its code and named in the result, from which mcrd takes its exit
 * code.
 */
import t from 'tap';
import { runStopSteps } from '../../supervisor/stop-steps.js';

t.test('a failing step does not keep the later ones from running', async (t) => {
  const ran: string[] = [];
  const logged: Array<Record<string, unknown>> = [];
  const logger = { error: (fields: Record<string, unknown>) => logged.push(fields) };
  const failed = await runStopSteps([
    { what: 'workers', run: async () => { ran.push('workers'); throw Object.assign(new Error('stuck'), { code: 'ETIMEDOUT' }); } },
    { what: 'consume filters', run: async () => { await new Promise((r) => setTimeout(r, 10)); ran.push('consume filters'); } },
    { what: 'metrics endpoint', run: () => { ran.push('metrics endpoint'); throw new Error('no code'); } },
    { what: 'control socket', run: () => { ran.push('control socket'); } },
  ], logger as never);
  t.same(ran, ['workers', 'consume filters', 'metrics endpoint', 'control socket'], 'every step ran, in order, each awaited');
  t.same(failed, ['workers', 'metrics endpoint'], 'the failed ones are named');
  t.match(logged, [{ code: 'ETIMEDOUT', step: 'workers', err: 'stuck' }, { code: 'ERR_MCR_STOP', step: 'metrics endpoint' }], 'each logged with its code');
});

t.test('all steps fine: nothing failed', async (t) => {
  t.same(await runStopSteps([{ what: 'a', run: () => undefined }], { error: () => undefined } as never), []);
});
