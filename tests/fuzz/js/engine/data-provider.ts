/**
 * Splits one fuzz input into typed values, as LLVM's FuzzedDataProvider does
 * for the C++ harnesses: numbers and choices are taken from the end of the
 * input, byte strings from the front, so a mutation of the payload does not
 * shift every decision and the reverse. Running out of bytes yields zeros
 * and empty strings, never an error: every input is a valid test case.
 */
export class FuzzedDataProvider {
  private front = 0;
  private back: number;

  constructor(private readonly data: Uint8Array) {
    this.back = data.length;
  }

  get remainingBytes(): number {
    return this.back - this.front;
  }

  /** An integer in min..max (inclusive; the span at most 2^32). */
  consumeIntInRange(min: number, max: number): number {
    if (max < min) throw new RangeError(`consumeIntInRange: max ${max} < min ${min}`);
    const span = max - min;
    let value = 0;
    let bits = 0;
    while (bits < 32 && span / 2 ** bits >= 1 && this.back > this.front) {
      this.back -= 1;
      value = value * 256 + (this.data[this.back] ?? 0);
      bits += 8;
    }
    return span === 0 ? min : min + (value % (span + 1));
  }

  consumeBoolean(): boolean {
    return (this.consumeIntInRange(0, 255) & 1) === 1;
  }

  pick<T>(values: readonly T[]): T {
    if (values.length === 0) throw new RangeError('pick: no values');
    return values[this.consumeIntInRange(0, values.length - 1)] as T;
  }

  /** Up to `max` bytes from the front. */
  consumeBytes(max: number): Uint8Array {
    const n = Math.min(max, this.remainingBytes);
    const out = this.data.subarray(this.front, this.front + n);
    this.front += n;
    return out;
  }

  /** A string of up to `maxLength` bytes, decoded as UTF-8 (invalid sequences become U+FFFD) or Latin-1. */
  consumeString(maxLength: number, encoding: 'utf8' | 'latin1' = 'utf8'): string {
    return Buffer.from(this.consumeBytes(maxLength)).toString(encoding);
  }

  /**
   * A string of a length chosen by the input: up to `maxLength` bytes,
   * ended early by a 0x00 byte (consumed, not included), so mutations can
   * grow and shrink each of several strings independently.
   */
  consumeTerminatedString(maxLength: number): string {
    const start = this.front;
    let end = start;
    while (end < this.back && end - start < maxLength && this.data[end] !== 0) end++;
    const text = Buffer.from(this.data.subarray(start, end)).toString('utf8');
    this.front = end < this.back && this.data[end] === 0 ? end + 1 : end;
    return text;
  }

  consumeRemainingBytes(): Uint8Array {
    return this.consumeBytes(this.remainingBytes);
  }
}
