/**
 * Long answers on a real control socket (supervisor/control/connection.ts,
 * common/control-client.ts): a rule list larger than the 16 MiB a client
 * takes in one frame arrives whole through requestWhole (in parts), while
 * a stats answer of several MiB is asked for at the same time, without the
 * client being dropped for unread answers; asked for in one piece, the
 * same list is refused with E2BIG and the connection stays usable; and a
 * client facing an mcrd that sends an oversize frame (one without parts)
 * fails with E2BIG saying what to do.
 */
import t from 'tap';
import { ControlClient } from '../../common/control-client.js';
import { ControlError } from '../../common/control-errors.js';
import { MAX_ANSWER_FRAME_BYTES } from '../../common/answer-parts.js';
import { encodeResponse } from '../../proto/control.js';
import type { ResultBody, Rule } from '../../proto/types.js';
import { startControlServer, stubHandler } from './control-fixture.js';

/** `count` rules each with ~`sourceBytes` of source list. */
function rules(count: number, sourceBytes: number): Rule[] {
  const source = Array.from({ length: Math.ceil(sourceBytes / 40) }, (_, k) => `2001:db8:ffff:${k.toString(16)}::1/128`).join(',');
  return Array.from({ length: count }, (_, i) => ({ id: i + 1, name: `r${i}`, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 1024 + i,
    outputs: [{ group: '239.2.0.1', port: 6000, interface: 'out0', ttl: 0 }], source }) as Rule);
}

function bigList(): ResultBody<'listRules'> {
  const rs = rules(10_000, 3000);
  return { kind: 'listRules', rules: rs, generation: 3, problems: [],
    streams: { rules: rs.map((r) => ({ ruleId: r.id, state: 'up', changedAtMs: 1, lastRxMs: 2 })) },
    consumes: { mode: 'auto', rules: rs.map((r) => ({ ruleId: r.id, consumed: true, reason: 'no local listener' })) } } as ResultBody<'listRules'>;
}

function bigStats(): ResultBody<'stats'> {
  return { kind: 'stats', workers: [], inputs: [], outputInterfaces: [], rateIntervalMs: 1000,
    rules: Array.from({ length: 80_000 }, (_, i) => ({ ruleId: i + 1, packets: 1e9 + i, bytes: 1e12 + i, errors: 0, pps: 1000.5,
      outputs: [{ packets: 1e9 + i, bytes: 1e12 + i, errors: 0, errorsByErrno: {}, pps: 1000.5 }], streamState: 'up', streamChangedAtMs: 1, lastRxMs: 2 })) } as unknown as ResultBody<'stats'>;
}

t.test('a list over 16 MiB arrives whole in parts, with a multi-MiB stats beside it', async (t) => {
  const list = bigList();
  const stats = bigStats();
  const listBytes = encodeResponse({ id: 1, more: false, body: list }).length;
  const statsBytes = encodeResponse({ id: 1, more: false, body: stats }).length;
  t.ok(listBytes > MAX_ANSWER_FRAME_BYTES, `the list is ${listBytes} bytes, more than one frame takes`);
  t.ok(statsBytes > 4 * 1024 * 1024, `the stats are ${statsBytes} bytes, more than mcrd lets wait unread`);
  const { client } = await startControlServer(t, stubHandler({ listRules: async () => list, stats: async () => stats }));
  const c = await client();
  const [gotStats, gotList] = await Promise.all([c.requestWhole('stats', { timeoutMs: 60_000 }), c.requestWhole('listRules', { timeoutMs: 60_000 })]);
  t.equal(gotList.rules.length, list.rules.length, 'every rule');
  t.same(gotList, list, 'the list as mcrd had it');
  t.equal(gotStats.rules.length, stats.rules.length, 'every rule\'s counters');
  t.equal(gotStats.rateIntervalMs, 1000);
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'the connection is still up');
});

t.test('the same list asked for in one piece: E2BIG, and the connection stays usable', async (t) => {
  const list = bigList();
  const { client } = await startControlServer(t, stubHandler({ listRules: async () => list }));
  const c = await client();
  const err = await c.request({ kind: 'listRules' }, { timeoutMs: 60_000 }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ControlError, 'refused');
  t.equal((err as ControlError).code, 'E2BIG');
  t.match((err as ControlError).message, /listRules answer takes \d+ bytes, more than a client takes in one frame \(16777216\): ask for it in parts/);
  t.equal((await c.request({ kind: 'ping' })).pid, process.pid, 'the next request is answered');
});

t.test('a small answer asked for in parts is one Response', async (t) => {
  const { client } = await startControlServer(t, stubHandler({ listRules: async () => ({ rules: rules(3, 0), generation: 1, problems: [] }) }));
  const c = await client();
  const got = await c.requestWhole('listRules');
  t.same(got.rules.map((r) => r.id), [1, 2, 3]);
});

t.test('a frame over the client\'s limit (an mcrd without parts) fails with E2BIG and what to do', async (t) => {
  const { path } = await startControlServer(t, stubHandler({ listRules: async () => ({ rules: rules(400, 3000), generation: 1, problems: [] }) }));
  // A client that takes 256 KiB in one frame, asking the old way: as an mcrctl meeting an mcrd that sends one large frame.
  const c = new ControlClient({ maxFrameBytes: 256 * 1024, requestTimeoutMs: 10_000 });
  await c.connect(path);
  t.teardown(() => c.close());
  const err = await c.request({ kind: 'listRules' }).then(() => undefined, (e: unknown) => e);
  t.equal((err as ControlError).code, 'E2BIG');
  t.match((err as ControlError).message, /mcrd sent an answer of \d+ bytes, more than this client takes in one frame \(262144\): .*upgrade mcrd/);
});
