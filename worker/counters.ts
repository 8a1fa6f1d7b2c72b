/**
 * Reads the counter block the native loop writes (a BigUint64Array over
 * native memory) and turns slots into named numbers. Reading costs the loop
 * nothing: no call into the addon, no lock.
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

  output(slot: number): CounterRecord {
    return this.read(this.outputBase + slot * this.layout.output.length, this.layout.output);
  }

  private read(base: number, names: string[]): CounterRecord {
    const out: CounterRecord = {};
    names.forEach((name, i) => {
      if (name !== 'state') out[name] = Number(this.words[base + i] ?? 0n);
    });
    return out;
  }
}
