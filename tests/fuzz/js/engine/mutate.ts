/**
 * The JavaScript fuzzer's mutations: libFuzzer's byte-level mutators
 * (MutationDispatcher in LLVM's FuzzerMutate.cpp), written again for
 * Buffers: erase, insert a byte or a run, change a byte or a bit, shuffle,
 * change an ASCII or a binary integer, copy a part, cross over with another
 * corpus input, and insert or overwrite a dictionary word. One mutation of a
 * corpus input stacks 1-5 of them, as libFuzzer does. Deterministic for a
 * given seed, so a run can be repeated with -seed.
 */

/** xorshift128+ on two 32-bit halves: fast, and good enough to pick mutations. */
export class Rng {
  private a: number;
  private b: number;

  constructor(seed: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.b = (Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0 || 2;
    for (let i = 0; i < 8; i++) this.next();
  }

  /** A uint32. */
  next(): number {
    let s1 = this.a;
    const s0 = this.b;
    this.a = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0;
    s1 ^= s0 >>> 26;
    this.b = s1 >>> 0;
    return (this.a + this.b) >>> 0;
  }

  /** 0..n-1 (n ≥ 1). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x64, 0x0a, 0x7e];
const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 1024 * 1024, 65535, 65536];

type Mutation = (data: Buffer, maxLen: number) => Buffer | null;

export class Mutator {
  /** Names of the mutations the last mutate() applied (libFuzzer's "MS:" field). */
  lastSequence: string[] = [];
  private readonly mutations: Array<[string, Mutation]>;

  constructor(
    private readonly rng: Rng,
    private readonly dictionary: readonly Buffer[],
    /** Another corpus input, for cross-over and copy-from (null when the corpus has one input). */
    private readonly other: () => Buffer | null,
  ) {
    this.mutations = [
      ['EraseBytes', (d) => this.eraseBytes(d)],
      ['InsertByte', (d, m) => this.insertByte(d, m)],
      ['InsertRepeatedBytes', (d, m) => this.insertRepeated(d, m)],
      ['ChangeByte', (d) => this.changeByte(d)],
      ['ChangeBit', (d) => this.changeBit(d)],
      ['ShuffleBytes', (d) => this.shuffle(d)],
      ['ChangeASCIIInt', (d, m) => this.changeAsciiInteger(d, m)],
      ['ChangeBinInt', (d) => this.changeBinaryInteger(d)],
      ['CopyPart', (d, m) => this.copyPart(d, d, m)],
      ['CrossOver', (d, m) => this.crossOver(d, m)],
      ['CopyFromOther', (d, m) => {
        const o = this.other();
        return o === null ? null : this.copyPart(o, d, m);
      }],
      ['InsertDict', (d, m) => this.insertWord(d, m)],
      ['OverwriteDict', (d) => this.overwriteWord(d)],
      ['InsertDict', (d, m) => this.insertWord(d, m)],
    ];
  }

  /** A mutant of `input`, at most `maxLen` bytes, different from it when the mutations allow. */
  mutate(input: Buffer, maxLen: number): Buffer {
    let data: Buffer = Buffer.from(input);
    this.lastSequence = [];
    const count = 1 + this.rng.below(5);
    for (let applied = 0, tries = 0; applied < count && tries < 50; tries++) {
      const [name, mutation] = this.mutations[this.rng.below(this.mutations.length)] ?? this.mutations[0]!;
      const out = mutation(data, maxLen);
      if (out === null) continue;
      data = out.length > maxLen ? out.subarray(0, maxLen) : out;
      this.lastSequence.push(name);
      applied++;
    }
    return data;
  }

  private eraseBytes(d: Buffer): Buffer | null {
    if (d.length <= 1) return null;
    const n = 1 + this.rng.below(Math.min(d.length - 1, this.rng.chance(4) ? d.length - 1 : 8));
    const at = this.rng.below(d.length - n + 1);
    return Buffer.concat([d.subarray(0, at), d.subarray(at + n)]);
  }

  private insertByte(d: Buffer, maxLen: number): Buffer | null {
    if (d.length >= maxLen) return null;
    const at = this.rng.below(d.length + 1);
    return Buffer.concat([d.subarray(0, at), Buffer.from([this.randomByte()]), d.subarray(at)]);
  }

  private insertRepeated(d: Buffer, maxLen: number): Buffer | null {
    const room = maxLen - d.length;
    if (room < 3) return null;
    const n = 3 + this.rng.below(Math.min(room - 3, 128) + 1);
    const at = this.rng.below(d.length + 1);
    return Buffer.concat([d.subarray(0, at), Buffer.alloc(n, this.rng.chance(2) ? this.randomByte() : 0), d.subarray(at)]);
  }

  private changeByte(d: Buffer): Buffer | null {
    if (d.length === 0) return null;
    d[this.rng.below(d.length)] = this.randomByte();
    return d;
  }

  private changeBit(d: Buffer): Buffer | null {
    if (d.length === 0) return null;
    const at = this.rng.below(d.length);
    d[at] = (d[at] ?? 0) ^ (1 << this.rng.below(8));
    return d;
  }

  private shuffle(d: Buffer): Buffer | null {
    if (d.length < 2) return null;
    const n = 2 + this.rng.below(Math.min(d.length, 8) - 1);
    const at = this.rng.below(d.length - n + 1);
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.below(i + 1);
      const t = d[at + i] ?? 0;
      d[at + i] = d[at + j] ?? 0;
      d[at + j] = t;
    }
    return d;
  }

  /** Finds a run of ASCII digits and replaces its number by one near it, or by an interesting one. */
  private changeAsciiInteger(d: Buffer, maxLen: number): Buffer | null {
    const from = this.rng.below(d.length + 1);
    let start = -1;
    for (let i = from; i < d.length; i++) {
      const c = d[i] ?? 0;
      if (c >= 0x30 && c <= 0x39) {
        start = i;
        break;
      }
    }
    if (start < 0) return null;
    let end = start;
    while (end < d.length && (d[end] ?? 0) >= 0x30 && (d[end] ?? 0) <= 0x39 && end - start < 18) end++;
    const value = Number(d.subarray(start, end).toString('latin1'));
    const choices = [value + 1, value - 1, value * 2, Math.floor(value / 2), value + 256, 0, 1, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740993];
    const next = String(Math.max(0, choices[this.rng.below(choices.length)] ?? 0));
    const out = Buffer.concat([d.subarray(0, start), Buffer.from(next, 'latin1'), d.subarray(end)]);
    return out.length > maxLen ? null : out;
  }

  /** Adds a small delta to (or stores an interesting value in) a 1-, 2- or 4-byte integer, either byte order. */
  private changeBinaryInteger(d: Buffer): Buffer | null {
    const width = [1, 2, 4][this.rng.below(3)] ?? 1;
    if (d.length < width) return null;
    const at = this.rng.below(d.length - width + 1);
    const little = this.rng.chance(2);
    const read = (): number => (width === 1 ? d.readUInt8(at) : width === 2 ? (little ? d.readUInt16LE(at) : d.readUInt16BE(at)) : little ? d.readUInt32LE(at) : d.readUInt32BE(at));
    const mask = 2 ** (8 * width);
    let value: number;
    if (this.rng.chance(2)) {
      const pool = width === 1 ? INTERESTING_8 : INTERESTING_32;
      value = (pool[this.rng.below(pool.length)] ?? 0) % mask;
    } else {
      value = (((read() + this.rng.below(71) - 35) % mask) + mask) % mask;
    }
    if (width === 1) d.writeUInt8(value, at);
    else if (width === 2) little ? d.writeUInt16LE(value, at) : d.writeUInt16BE(value, at);
    else little ? d.writeUInt32LE(value, at) : d.writeUInt32BE(value, at);
    return d;
  }

  /** Copies a part of `from` over `into` or inserts it there. */
  private copyPart(from: Buffer, into: Buffer, maxLen: number): Buffer | null {
    if (from.length === 0) return null;
    const n = 1 + this.rng.below(Math.min(from.length, 64));
    const src = this.rng.below(from.length - n + 1);
    const part = Buffer.from(from.subarray(src, src + n));
    if (this.rng.chance(2) && into.length >= n) {
      part.copy(into, this.rng.below(into.length - n + 1));
      return into;
    }
    if (into.length + n > maxLen) return null;
    const at = this.rng.below(into.length + 1);
    return Buffer.concat([into.subarray(0, at), part, into.subarray(at)]);
  }

  /** A prefix of this input followed by a suffix of another. */
  private crossOver(d: Buffer, maxLen: number): Buffer | null {
    const o = this.other();
    if (o === null || (d.length === 0 && o.length === 0)) return null;
    const cut = this.rng.below(d.length + 1);
    const from = this.rng.below(o.length + 1);
    const out = Buffer.concat([d.subarray(0, cut), o.subarray(from)]);
    return out.length > maxLen ? out.subarray(0, maxLen) : out;
  }

  private insertWord(d: Buffer, maxLen: number): Buffer | null {
    const word = this.word();
    if (word === null || d.length + word.length > maxLen) return null;
    const at = this.rng.below(d.length + 1);
    return Buffer.concat([d.subarray(0, at), word, d.subarray(at)]);
  }

  private overwriteWord(d: Buffer): Buffer | null {
    const word = this.word();
    if (word === null || word.length > d.length) return null;
    word.copy(d, this.rng.below(d.length - word.length + 1));
    return d;
  }

  private word(): Buffer | null {
    return this.dictionary.length === 0 ? null : (this.dictionary[this.rng.below(this.dictionary.length)] ?? null);
  }

  /** Mostly printable ASCII (the config and the CLI are text), else any byte. */
  private randomByte(): number {
    return this.rng.chance(2) ? 0x20 + this.rng.below(0x5f) : this.rng.below(256);
  }
}
