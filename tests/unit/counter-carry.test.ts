/**
 * A worker keeps a rule's counters through a replace of its rule table
 * (worker/counter-carry.ts): the old slots' numbers become the base of the
 * same rule id, output by destination (not index); a new output and a new
 * rule start at zero; last_errno is not a count; a removed or re-added rule
 * carries nothing; carried numbers add up over several replaces.
 */
import t from 'tap';
import { CounterCarry } from '../../worker/counter-carry.js';

const A = '239.2.2.1:6000:out0';
const B = '239.2.2.2:6001:out1';
const C = '239.2.2.3:6002:out2';

type Out = Record<string, number | string | boolean>;
const reading = (packets: number, outputs: Out[]): { packets: number; bytes: number; outputs: Out[] } => ({ packets, bytes: packets * 10, outputs });
const out = (packets: number, extra: Record<string, number> = {}): Out => ({ destination: 'x', interface: 'y', connected: true, packets, bytes: packets * 10, errors: 0, ...extra });

t.test('a replace carries the old numbers to the same rule, output by destination', async (t) => {
  const carry = new CounterCarry();
  carry.replaced(
    [{ id: 1, outputKeys: [A, B], ...reading(100, [out(100, { err_enobufs: 2, errors: 2, last_errno: 105 }), out(90)]) },
      { id: 2, outputKeys: [A], ...reading(5, [out(5)]) }],
    [{ id: 1, outputKeys: [B, C, A] }, { id: 3, outputKeys: [A] }]);
  const r1 = carry.add(1, reading(7, [out(7), out(0), out(7, { last_errno: 0 })]));
  t.equal(r1.packets, 107, 'the rule: old + new');
  t.equal(r1.bytes, 1070);
  t.equal(r1.outputs[0]?.packets, 97, 'B, now first: 90 + 7');
  t.equal(r1.outputs[1]?.packets, 0, 'C is new: nothing carried');
  t.same([r1.outputs[2]?.packets, r1.outputs[2]?.err_enobufs, r1.outputs[2]?.errors, r1.outputs[2]?.last_errno], [107, 2, 2, 0],
    'A, now last: packets and errno columns carried; last_errno is not a count');
  t.equal(r1.outputs[2]?.destination, 'x', 'descriptive fields left alone');
  t.equal(carry.add(3, reading(4, [out(4)])).packets, 4, 'a new rule: nothing carried');
  t.equal(carry.add(2, reading(4, [out(4)])).packets, 4, 'rule 2 left the table: forgotten');
});

t.test('carried numbers add up over replaces; forget drops them', async (t) => {
  const carry = new CounterCarry();
  carry.replaced([{ id: 1, outputKeys: [A], ...reading(100, [out(100)]) }], [{ id: 1, outputKeys: [A] }]);
  // The second replace reads the rule with its base added already (Relay.stats()).
  const seen = carry.add(1, reading(50, [out(50)]));
  carry.replaced([{ id: 1, outputKeys: [A], ...seen }], [{ id: 1, outputKeys: [A] }]);
  const now = carry.add(1, reading(1, [out(1)]));
  t.same([now.packets, now.outputs[0]?.packets], [151, 151], '100 + 50 + 1');
  carry.forget(1);
  t.equal(carry.add(1, reading(1, [out(1)])).packets, 1, 'removed (or added anew): nothing carried');
});

t.test('the stream monitor\'s counts are carried, its jitter (a gauge) not', async (t) => {
  const carry = new CounterCarry();
  carry.replaced([{ id: 1, outputKeys: [A], ...reading(100, [out(100)]), monitor: { rtp_lost: 3, rtp_ssrc_changes: 1, rtp_jitter: 500, ts_cc_errors: 2 } }],
    [{ id: 1, outputKeys: [A] }]);
  const r = carry.add(1, { ...reading(10, [out(10)]), monitor: { rtp_lost: 5, rtp_ssrc_changes: 1, rtp_jitter: 40, ts_cc_errors: 0 } });
  t.same(r.monitor, { rtp_lost: 8, rtp_ssrc_changes: 2, rtp_jitter: 40, ts_cc_errors: 2 }, 'losses before the sync and after add up; the jitter is the new one');
  t.equal(carry.add(1, reading(10, [out(10)])).packets, 110, 'a reading without a monitor still gets its packets');
});

t.test('a rule the replace refused keeps its numbers for the add that retries it', async (t) => {
  const carry = new CounterCarry();
  // Relay.replaceRules lists a refused rule among those after the replace (not installed, so not read until its addRule).
  carry.replaced([{ id: 2, outputKeys: [A], ...reading(500, [out(500)]) }], [{ id: 2, outputKeys: [A] }]);
  const r = carry.add(2, reading(0, [out(0)]));
  t.equal(r.packets, 500, 'installed again by the retry, from zero slots: the old count goes on');
  t.equal(r.outputs[0]?.packets, 500, 'and its output\'s');
});

t.test('a refused rule keeps its numbers through the replaces before its retry: refused again, or installed by one', async (t) => {
  const carry = new CounterCarry();
  carry.replaced([{ id: 2, outputKeys: [A, B], ...reading(500, [out(500), out(400)]) }], [{ id: 2, outputKeys: [A, B] }]);
  // The next sync refuses it again: it was not installed, so it is not among those read before.
  carry.replaced([], [{ id: 2, outputKeys: [A, B] }]);
  t.equal(carry.add(2, reading(0, [out(0), out(0)])).packets, 500, 'refused twice: still its numbers');
  // The one after installs it, its outputs in another order.
  carry.replaced([], [{ id: 2, outputKeys: [B, A] }]);
  const r = carry.add(2, reading(3, [out(3), out(3)]));
  t.same([r.packets, r.outputs[0]?.packets, r.outputs[1]?.packets], [503, 403, 503], 'installed by a replace: the count goes on, output by destination');
  carry.replaced([], [{ id: 3, outputKeys: [A] }]);
  t.equal(carry.add(2, reading(1, [out(1), out(1)])).packets, 1, 'left out of a replace: forgotten');
});
