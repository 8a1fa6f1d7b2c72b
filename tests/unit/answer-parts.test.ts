/**
 * Answers in parts (common/answer-parts.ts): mcrd's cut of a listRules or
 * stats answer, measured with the real Response encoder, and the client's
 * merge. A round trip gives back the answer exactly; every part stays near
 * its size (a single rule larger than a part makes one of its own); the
 * entries that go with a rule travel in its part; stats' workers and
 * inputs come once.
 */
import t from 'tap';
import { mergeAnswer, splitAnswer, type PartedAnswer } from '../../common/answer-parts.js';
import { decodeResponse, encodeResponse } from '../../proto/control.js';
import type { ResultBody, Rule } from '../../proto/types.js';

const KB = 1024;

/** Rule i with a source list of about `sourceBytes` characters. */
function rule(i: number, sourceBytes = 0): Rule {
  const sources = sourceBytes > 0 ? Array.from({ length: Math.ceil(sourceBytes / 40) }, (_, k) => `2001:db8:${(i % 65536).toString(16)}:${k.toString(16)}::1/128`).join(',') : undefined;
  return { id: i + 1, name: `r${i}`, inputInterface: 'in0', inputGroup: `239.1.${i >> 8 & 255}.${i & 255}`, inputPort: 5000 + (i % 60000),
    outputs: [{ group: '239.2.0.1', port: 6000, interface: 'out0', ttl: 0 }], ...(sources !== undefined ? { source: sources } : {}) } as Rule;
}

function listAnswer(rules: Rule[]): ResultBody<'listRules'> {
  return {
    kind: 'listRules', rules, generation: 42,
    problems: rules.filter((r) => r.id % 97 === 0).map((r) => ({ ruleId: r.id, applied: [], refused: [], unconfirmed: ['in0/0'], pending: [] })),
    streams: { rules: rules.map((r) => ({ ruleId: r.id, state: r.id % 2 === 0 ? 'up' : 'down', changedAtMs: 1_700_000_000_000 + r.id, lastRxMs: 0 })) },
    consumes: { mode: 'auto', rules: rules.map((r) => ({ ruleId: r.id, consumed: r.id % 3 !== 0, reason: 'no local listener' })) },
  } as ResultBody<'listRules'>;
}

/** A part's Response as mcrd encodes it; counts the encodings. */
let encodings = 0;
const encode = (part: PartedAnswer, last: boolean): Uint8Array => {
  encodings += 1;
  return encodeResponse({ id: 7, more: !last, body: part });
};
const sizeOf = (part: PartedAnswer): number => encodeResponse({ id: 7, more: true, body: part }).length;

/** The parts mcrd would send, as objects. */
function split<A extends PartedAnswer>(answer: A, partBytes?: number): A[] {
  return [...splitAnswer(answer, encode, partBytes)].map((p) => p.part);
}

/** Each part's bytes through the real decoder, as a client receives them; every part but the last says more. */
function overTheWire<A extends PartedAnswer>(answer: A, partBytes?: number): PartedAnswer[] {
  const sent = [...splitAnswer(answer, encode, partBytes)];
  return sent.map((p, i) => {
    const decoded = decodeResponse(p.bytes);
    if (decoded.more !== (i < sent.length - 1) || p.last !== (i === sent.length - 1)) throw new Error(`part ${i}: more ${String(decoded.more)}, last ${String(p.last)}`);
    return decoded.body as PartedAnswer;
  });
}

t.test('a small answer is one part, and merging one part gives it back', async (t) => {
  const answer = listAnswer(Array.from({ length: 10 }, (_, i) => rule(i)));
  encodings = 0;
  const parts = split(answer);
  t.equal(parts.length, 1);
  t.equal(encodings, 1, 'encoded once');
  t.equal(parts[0], answer, 'the answer itself, not a copy');
  t.equal(mergeAnswer(parts), answer);
});

t.test('a long rule list: parts near their size, every entry with its rule, the round trip exact', async (t) => {
  // 6 000 rules of ~1-4 KB of sources (uneven), ~14 MB.
  const answer = listAnswer(Array.from({ length: 6000 }, (_, i) => rule(i, KB * (1 + (i % 4)))));
  const partBytes = 512 * KB;
  encodings = 0;
  const parts = split(answer, partBytes);
  t.ok(encodings <= parts.length + 2, `${encodings} encodings for ${parts.length} parts: each part once, give or take a first guess`);
  const whole = sizeOf(answer);
  t.ok(parts.length >= Math.ceil(whole / partBytes), `${parts.length} parts of a ${whole}-byte answer`);
  for (const [i, part] of parts.entries()) {
    const bytes = sizeOf(part);
    if (bytes > 2 * partBytes) t.fail(`part ${i} is ${bytes} bytes, more than twice ${partBytes}`);
    const ids = new Set(part.rules.map((r) => r.id));
    if (part.kind !== 'listRules') throw new Error('kind changed');
    t.equal(part.generation, 42, `part ${i} carries the generation`);
    t.equal(part.consumes?.mode, 'auto', `part ${i} carries the consume mode`);
    t.ok([...part.problems, ...(part.streams?.rules ?? []), ...(part.consumes?.rules ?? [])].every((e) => ids.has(e.ruleId)), `part ${i}: every entry belongs to one of its rules`);
    t.equal(part.streams?.rules.length, part.rules.length, `part ${i}: one stream entry per rule`);
  }
  t.same(mergeAnswer(overTheWire(answer, partBytes)), answer, 'merged after the wire, the answer as it was');
});

t.test('a rule larger than a part makes a part of its own; its neighbours are not held back', async (t) => {
  const rules = Array.from({ length: 200 }, (_, i) => rule(i, i === 100 ? 900 * KB : 2 * KB));
  const answer = listAnswer(rules);
  const partBytes = 128 * KB;
  const parts = split(answer, partBytes);
  const big = parts.find((p) => p.rules.some((r) => r.id === 101));
  t.same(big?.rules.map((r) => r.id), [101], 'the large rule alone');
  t.ok(parts.filter((p) => p !== big).every((p) => sizeOf(p) <= 2 * partBytes), 'the others within twice the part size');
  t.same(mergeAnswer(overTheWire(answer, partBytes)), answer);
});

t.test('stats: rules in runs, workers, inputs and output interfaces once, in the first part', async (t) => {
  const rules = Array.from({ length: 20_000 }, (_, i) => ({ ruleId: i + 1, packets: i, bytes: 64 * i, errors: 0,
    outputs: [{ packets: i, bytes: 64 * i, errors: 0, errorsByErrno: {} }], streamState: 'up', streamChangedAtMs: 1, lastRxMs: 2 }));
  const answer = { kind: 'stats', rules, rateIntervalMs: 1000,
    workers: [{ worker: 'in0/0', interface: 'in0', received: 5, kernelDrops: 0, restarts: 1, loop: { turns: 9 } }],
    inputs: [{ interface: 'in0', frames: 5, kernelDrops: 0, malformed: { fragment: 0 }, unmatched: 0 }],
    outputInterfaces: [{ interface: 'out0', qdisc: 'fq_codel', qdiscDrops: 3, deviceDrops: 0, lower: [], upper: [] }] } as unknown as ResultBody<'stats'>;
  const parts = split(answer, 64 * KB);
  t.ok(parts.length > 3, `${parts.length} parts`);
  const [first, ...rest] = parts as Array<ResultBody<'stats'>>;
  t.equal(first?.workers.length, 1);
  t.equal(first?.outputInterfaces.length, 1);
  t.equal(first?.rateIntervalMs, 1000);
  t.ok(rest.every((p) => p.workers.length === 0 && p.inputs.length === 0 && p.outputInterfaces.length === 0 && p.rateIntervalMs === undefined),
    'the later parts carry only rules');
  t.same(mergeAnswer(overTheWire(answer, 64 * KB)), answer, 'the round trip');
});

t.test('entries of a rule not in the answer go with the first part, none lost; an empty answer is one part', async (t) => {
  const answer = listAnswer(Array.from({ length: 3000 }, (_, i) => rule(i, KB)));
  answer.problems.push({ ruleId: 999_999, applied: [], refused: [], unconfirmed: ['in0/0'], pending: [] });
  answer.consumes?.rules.unshift({ ruleId: 999_998, consumed: false, reason: 'removed meanwhile' });
  const parts = split(answer, 256 * KB);
  t.ok(parts.length > 2, `${parts.length} parts`);
  const first = parts[0] as ResultBody<'listRules'>;
  t.ok(first.problems.some((p) => p.ruleId === 999_999) && first.consumes?.rules.some((c) => c.ruleId === 999_998), 'both in the first part');
  const merged = mergeAnswer(overTheWire(answer, 256 * KB)) as ResultBody<'listRules'>;
  t.equal(merged.problems.length, answer.problems.length, 'every problem');
  t.equal(merged.consumes?.rules.length, answer.consumes?.rules.length, 'every consume entry');
  const empty = listAnswer([]);
  t.same(split(empty), [empty], 'no rules: the answer as one part');
});

t.test('merging nothing is a programming error', async (t) => {
  t.throws(() => mergeAnswer([]), RangeError);
});
