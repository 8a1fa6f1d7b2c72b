/**
 * Address prefixes as rules write them (`10.1.0.0/16`, `ff3e::/96`): the
 * bytes of an address, containment, and a prefix's canonical text (host
 * bits zero, the address in its canonical form, a full-length prefix
 * written as the bare address). The rule model (rule-spec.ts) validates
 * with these, and mcrd's rule table keys overlaps on the canonical text.
 */
import { SocketAddress } from 'node:net';

/** The 4 or 16 bytes of a valid IPv4 or IPv6 address (no zone). */
export function addressBytes(addr: string): Uint8Array {
  if (!addr.includes(':')) return Uint8Array.from(addr.split('.').map(Number));
  const out = new Uint8Array(16);
  let text = addr;
  let dotted: number[] | undefined;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    dotted = tail[1]!.split('.').map(Number);
    text = `${text.slice(0, -tail[1]!.length)}0:0`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 ? (halves[1] ? halves[1].split(':') : []) : undefined;
  const groups = rest === undefined ? head : [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  if (dotted) out.set(dotted, 12);
  return out;
}

/** An address in canonical text (as inet_ntop and the interface watcher give it); the text as given when it does not parse. */
export function canonicalAddress(text: string): string {
  try {
    return bytesToAddress(addressBytes(text));
  } catch {
    return text;
  }
}

/** The canonical text of an address given as its bytes. */
export function bytesToAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** Whether the first `len` bits of `a` and `b` are equal. */
export function samePrefixBits(a: Uint8Array, b: Uint8Array, len: number): boolean {
  for (let bit = 0; bit < len; bit += 8) {
    const i = bit / 8;
    const mask = len - bit >= 8 ? 0xff : (0xff00 >> (len - bit)) & 0xff;
    if (((a[i]! ^ b[i]!) & mask) !== 0) return false;
  }
  return true;
}

/** `bytes` with every bit past `len` cleared (a copy). */
export function maskBytes(bytes: Uint8Array, len: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; ++i) {
    const bit = i * 8;
    const keep = bit + 8 <= len ? 0xff : bit >= len ? 0 : (0xff00 >> (len - bit)) & 0xff;
    out[i] = out[i]! & keep;
  }
  return out;
}

/** `ADDR/LEN` split; undefined for text without a slash. */
export function splitPrefix(text: string): { addr: string; len: string } | undefined {
  const slash = text.indexOf('/');
  return slash < 0 ? undefined : { addr: text.slice(0, slash), len: text.slice(slash + 1) };
}

/** The prefix length of canonical rule text: the bare address is its full length. */
export function prefixLength(text: string): number {
  const parts = splitPrefix(text);
  if (parts) return Number(parts.len);
  return text.includes(':') ? 128 : 32;
}

/** The address part of canonical rule text (`239.1.0.0` of `239.1.0.0/16`). */
export function prefixAddress(text: string): string {
  return splitPrefix(text)?.addr ?? text;
}

/** Whether canonical prefix text `prefix` contains the address or prefix `inner`. */
export function prefixContains(prefix: string, inner: string): boolean {
  if (prefix.includes(':') !== inner.includes(':')) return false;
  const len = prefixLength(prefix);
  if (prefixLength(inner) < len) return false;
  return samePrefixBits(addressBytes(prefixAddress(prefix)), addressBytes(prefixAddress(inner)), len);
}

/**
 * Whether the prefixes `covers` (canonical text) together hold every
 * address of `prefix`: one of them contains it, or it splits into two
 * halves that are each covered. Only halves some cover reaches inside are
 * split, each with the covers inside it, so the work grows with the number
 * of covers times their length, not with the address space.
 */
export function prefixCoveredBy(prefix: string, covers: readonly string[]): boolean {
  const family = prefix.includes(':');
  type Parsed = { bytes: Uint8Array; len: number };
  const covered = (bytes: Uint8Array, len: number, candidates: readonly Parsed[]): boolean => {
    const inside: Parsed[] = [];
    for (const c of candidates) {
      if (!samePrefixBits(c.bytes, bytes, Math.min(c.len, len))) continue;
      if (c.len <= len) return true;  // c contains this prefix
      inside.push(c);
    }
    if (inside.length === 0) return false;
    const low = maskBytes(bytes, len);
    const high = Uint8Array.from(low);
    high[len >> 3] = high[len >> 3]! | (0x80 >> (len & 7));
    return covered(low, len + 1, inside) && covered(high, len + 1, inside);
  };
  const parsed = covers.filter((c) => c.includes(':') === family).map((c) => ({ bytes: addressBytes(prefixAddress(c)), len: prefixLength(c) }));
  return covered(addressBytes(prefixAddress(prefix)), prefixLength(prefix), parsed);
}

/**
 * Whether a group address is in a source-specific multicast range (RFC
 * 4607): 232.0.0.0/8, or ff3x::/32 (the unicast-prefix-based form with
 * prefix length and network prefix 0). SSM networks deliver such a group
 * only to source-specific joins (RFC 4604): an any-source join gets nothing.
 */
export function isSsmGroup(group: string): boolean {
  const b = addressBytes(group);
  if (b.length === 4) return b[0] === 232;
  return b[0] === 0xff && ((b[1] ?? 0) & 0xf0) === 0x30 && b[2] === 0 && b[3] === 0;
}
