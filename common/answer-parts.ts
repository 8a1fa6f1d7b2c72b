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

/**
 * Part `index` of `result` holding rules [from, to), with what goes with
 * those rules: a listRules part the problems, stream and consume entries of
 * its rules (and the first part any entry whose rule is not in the answer,
 * so none is lost); a stats part nothing else but in the first, which
 * carries workers, inputs, output interfaces and the rate interval.
 */
function slice(result: PartedAnswer, from: number, to: number, index: number, answerIds: ReadonlySet<number>): PartedAnswer {
  if (result.kind === 'listRules') {
    const rules = result.rules.slice(from, to);
    const ids = new Set(rules.map((rule) => rule.id));
    const mine = (e: { ruleId: number }): boolean => ids.has(e.ruleId) || (index === 0 && !answerIds.has(e.ruleId));
    const part: ListAnswer = { kind: 'listRules', rules, generation: result.generation, problems: result.problems.filter(mine) };
    if (result.streams !== undefined) part.streams = { rules: result.streams.rules.filter(mine) };
    if (result.consumes !== undefined) part.consumes = { mode: result.consumes.mode, rules: result.consumes.rules.filter(mine) };
    return part;
  }
  return index === 0 ? { ...result, rules: result.rules.slice(from, to) } : { kind: 'stats', rules: result.rules.slice(from, to), workers: [], inputs: [], outputInterfaces: [] };
}

/** One part, its encoded Response and whether it is the last. */
export interface AnswerPart<A extends PartedAnswer> {
  part: A;
  bytes: Uint8Array;
  last: boolean;
}

/** Rules tried in the first part, before the answer's own bytes per rule are known. */
const FIRST_RUN = 256;

/**
 * The parts of `result`, in order, each encoded once by `encode` (its
 * Response, `last` telling whether more follow) at about `partBytes`: the
 * rules go in runs sized from the bytes per rule of the run before; a run
 * that comes out larger than twice `partBytes` is encoded again smaller
 * (down to one rule). An answer that fits one run is one part.
 */
export function* splitAnswer<A extends PartedAnswer>(result: A, encode: (part: A, last: boolean) => Uint8Array,
  partBytes: number = PART_BYTES): Generator<AnswerPart<A>, void, undefined> {
  const count = result.rules.length;
  const answerIds = new Set<number>(result.kind === 'listRules' ? result.rules.map((r) => r.id) : []);
  let run = Math.min(count, FIRST_RUN);
  let index = 0;
  for (let from = 0; from < count || index === 0;) {
    const to = Math.min(count, from + Math.max(1, run));
    const last = to >= count;
    // slice keeps the kind of the answer it cuts; one part of everything is the answer itself.
    const part = from === 0 && last ? result : slice(result, from, to, index, answerIds) as A;
    const bytes = encode(part, last);
    // Bytes per rule of this run, for the next (or for this one again, smaller).
    const fit = Math.max(1, Math.floor(((to - from) * partBytes) / Math.max(1, bytes.length)));
    if (bytes.length > 2 * partBytes && to - from > 1) {
      run = Math.min(fit, Math.floor((to - from) / 2));
      continue;
    }
    yield { part, bytes, last };
    index += 1;
    from = to;
    run = fit;
    if (last) return;
  }
}

/**
 * The answer the parts were cut from: repeated fields concatenated in
 * order, the rest from the first part. The rules come back in their order;
 * the entries that go with them in the order of their rules' parts.
 */
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
  return { ...head, rules: ps.flatMap((p) => p.rules), workers: ps.flatMap((p) => p.workers), inputs: ps.flatMap((p) => p.inputs),
    outputInterfaces: ps.flatMap((p) => p.outputInterfaces) } as A;
}
