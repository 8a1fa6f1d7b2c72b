/**
 * Answers in parts (proto/control.proto, "AnswerParts"): how mcrd cuts a
 * listRules or stats answer into Responses of about PART_BYTES each, and
 * how a client puts them back together. Both sides live here so the cut
 * and the merge cannot drift apart; tests/unit/answer-parts.test.ts holds
 * them to a round trip.
 *
 * Why parts: both answers grow with the rules (one interface at its byte
 * limit is ~15 MB of rules alone), while a client takes at most
 * MAX_ANSWER_FRAME_BYTES in one frame and mcrd drops a client with more
 * than 4 MiB of answers unread (supervisor/control/connection.ts). Parts of
 * ~1 MiB, each sent once the one before it was read, stay under both.
 *
 * A part holds whole rules, in the answer's order: a rule is never cut, so
 * a single rule larger than a part makes a part of its own.
 */
import type { ResultBody } from '../proto/types.js';

/** The request kinds whose answers may come in parts. */
export type PartedKind = 'listRules' | 'stats';

/** What a part aims at (encoded Response bytes): small against every limit, large enough to keep the count of parts low. */
export const PART_BYTES = 1024 * 1024;

/**
 * The largest answer frame a client of this version takes, and the largest
 * mcrd sends (older clients take the same): a bigger answer asked for in
 * one piece is refused with E2BIG.
 */
export const MAX_ANSWER_FRAME_BYTES = 16 * 1024 * 1024;

export function isPartedKind(kind: string): kind is PartedKind {
  return kind === 'listRules' || kind === 'stats';
}

type ListAnswer = ResultBody<'listRules'>;
type StatsAnswer = ResultBody<'stats'>;
/** A listRules or stats answer, told apart by its kind. */
export type PartedAnswer = ListAnswer | StatsAnswer;

/** Part `index` of `result` holding rules [from, to), with what goes with those rules. */
function slice(result: PartedAnswer, from: number, to: number, index: number): PartedAnswer {
  if (result.kind === 'listRules') {
    const rules = result.rules.slice(from, to);
    const ids = new Set(rules.map((rule) => rule.id));
    const part: ListAnswer = { kind: 'listRules', rules, generation: result.generation, problems: result.problems.filter((p) => ids.has(p.ruleId)) };
    if (result.streams !== undefined) part.streams = { rules: result.streams.rules.filter((s) => ids.has(s.ruleId)) };
    if (result.consumes !== undefined) part.consumes = { mode: result.consumes.mode, rules: result.consumes.rules.filter((c) => ids.has(c.ruleId)) };
    return part;
  }
  return index === 0 ? { ...result, rules: result.rules.slice(from, to) } : { kind: 'stats', rules: result.rules.slice(from, to), workers: [], inputs: [] };
}

/**
 * The parts of `result`, in order, each measured with `sizeOf` (its
 * encoded Response) at about `partBytes`: the rules are cut into runs of
 * equal count from the whole answer's size, and a run that still comes out
 * larger than twice `partBytes` is halved until it fits or holds one rule.
 * An answer that fits one part is one part.
 */
export function* splitAnswer<A extends PartedAnswer>(result: A, sizeOf: (part: A) => number,
  partBytes: number = PART_BYTES): Generator<A, void, undefined> {
  const count = result.rules.length;
  const whole = sizeOf(result);
  if (whole <= partBytes || count <= 1) {
    yield result;
    return;
  }
  const perPart = Math.max(1, Math.floor(count / Math.ceil(whole / partBytes)));
  let index = 0;
  for (let from = 0; from < count; from += perPart) {
    // Runs of this stretch still to send, as [from, to): one too large goes back as two halves.
    const runs: Array<[number, number]> = [[from, Math.min(count, from + perPart)]];
    while (runs.length > 0) {
      const [a, b] = runs.shift() as [number, number];
      // slice keeps the kind of the answer it cuts.
      const part = slice(result, a, b, index) as A;
      if (b - a > 1 && sizeOf(part) > 2 * partBytes) {
        const mid = a + Math.floor((b - a) / 2);
        runs.unshift([a, mid], [mid, b]);
        continue;
      }
      yield part;
      index += 1;
    }
  }
}

/** The answer the parts were cut from: repeated fields concatenated in order, the rest from the first part. */
export function mergeAnswer<A extends PartedAnswer>(parts: readonly A[]): A {
  const head: PartedAnswer | undefined = parts[0];
  if (head === undefined) throw new RangeError('mergeAnswer needs at least one part');
  if (parts.length === 1) return head as A;
  if (head.kind === 'listRules') {
    const ps = parts as readonly PartedAnswer[] as readonly ListAnswer[];
    const merged: ListAnswer = { ...head, rules: ps.flatMap((p) => p.rules), problems: ps.flatMap((p) => p.problems) };
    if (head.streams !== undefined) merged.streams = { rules: ps.flatMap((p) => p.streams?.rules ?? []) };
    if (head.consumes !== undefined) merged.consumes = { mode: head.consumes.mode, rules: ps.flatMap((p) => p.consumes?.rules ?? []) };
    return merged as A;
  }
  const ps = parts as readonly PartedAnswer[] as readonly StatsAnswer[];
  return { ...head, rules: ps.flatMap((p) => p.rules), workers: ps.flatMap((p) => p.workers), inputs: ps.flatMap((p) => p.inputs) } as A;
}
