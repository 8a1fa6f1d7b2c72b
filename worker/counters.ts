/**
 * Reads the counter block the native loop writes (a BigUint64Array over
 * native memory) and turns slots into named numbers. Reading costs the loop
 * nothing: no call into the addon, no lock. errorsByErrno turns an output's
 * err_<errno> columns into the errno-keyed map the stats answer carries.
 */
import type { CounterLayout } from '../native/index.js';

export type CounterRecord = Record<string, number>;

export class CounterView {
  private readonly words: BigUint64Array;
  private readonly ruleBase: number;
  private readonly outputBase: number;

  constructor(
    buffer: ArrayBuffer,
    private readonly layout: CounterLayout,
    ruleSlots: number,
  ) {
    this.words = new BigUint64Array(buffer);
    this.ruleBase = layout.loop.length;
    this.outputBase = this.ruleBase + ruleSlots * layout.rule.length;
  }

  loop(): CounterRecord {
    return this.read(0, this.layout.loop);
  }

  rule(slot: number): CounterRecord {
    return this.read(this.ruleBase + slot * this.layout.rule.length, this.layout.rule);
  }

  /** One field of a rule slot, by its counters.h name (0 for an unknown name). */
  ruleWord(slot: number, name: string): number {
    const i = this.layout.rule.indexOf(name);
    return i < 0 ? 0 : Number(this.words[this.ruleBase + slot * this.layout.rule.length + i] ?? 0n);
  }

  /**
   * An output's counters, its `errors` the sum of its err_<errno> columns.
   * The loop bumps `errors` and then the errno's column (send_queue.cc), and
   * this read is not atomic with its writes: a send that fails between the
   * two reads would make `errors` and errorsByErrno disagree by its batch
   * (seen in mcrd-interface-faults: 8864 against 8865). Every error lands in
   * exactly one column, so their sum is the same count, read consistently.
   */
  output(slot: number): CounterRecord {
    const out = this.read(this.outputBase + slot * this.layout.output.length, this.layout.output);
    out.errors = Object.values(errorsByErrno(out)).reduce((sum, n) => sum + n, 0);
    return out;
  }

  private read(base: number, names: string[]): CounterRecord {
    const out: CounterRecord = {};
    names.forEach((name, i) => {
      if (name !== 'state') out[name] = Number(this.words[base + i] ?? 0n);
    });
    return out;
  }
}

/**
 * An output's failed sends by errno, from its err_<errno> columns
 * (native/core/counters.h): `err_enodev` becomes `ENODEV`, `err_other`
 * (errnos without a column of their own) `other`. Only errnos that
 * occurred: the map rides in every stats reply, for every output.
 */
export function errorsByErrno(output: Readonly<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(output)) {
    if (!name.startsWith('err_') || typeof value !== 'number' || value === 0) continue;
    const errno = name.slice('err_'.length);
    out[errno === 'other' ? 'other' : errno.toUpperCase()] = value;
  }
  return out;
}

/** The stream monitor's columns of a rule's counters (rtp_*, ts_*). */
export function monitorCounts(rule: Readonly<CounterRecord>): CounterRecord {
  const out: CounterRecord = {};
  for (const [name, value] of Object.entries(rule)) {
    if (name.startsWith('rtp_') || name.startsWith('ts_')) out[name] = value;
  }
  return out;
}
