/**
 * The PACKET_FANOUT group id of each input interface. All workers of one
 * interface join one group (PACKET_FANOUT_HASH: a flow stays on one worker),
 * and each interface needs its own: the kernel refuses (EINVAL) a socket
 * that joins a group bound to another device. Ids are 16 bits and shared
 * by every program in the network namespace, so mcrd takes them from its
 * own range and gives one back when the interface's workers are gone (a
 * long-lived mcrd whose rules follow short-lived interfaces would run out
 * otherwise). The next id is taken after the last one handed out, wrapping
 * in the range, so an id just given back is the last to be reused.
 */

/** mcrd's range of fan-out group ids ("M" 0x4d, then any low byte, up to the last 16-bit id). */
export const FANOUT_GROUP_FIRST = 0x4d00;
export const FANOUT_GROUP_LAST = 0xffff;

export class FanoutGroups {
  private readonly byInterface = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  constructor(private readonly first = FANOUT_GROUP_FIRST, private readonly last = FANOUT_GROUP_LAST) {
    this.next = first;
  }

  /** The interface's group id, taking a free one the first time. */
  idFor(iface: string): number {
    const held = this.byInterface.get(iface);
    if (held !== undefined) return held;
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i++) {
      const id = this.first + ((this.next - this.first + i) % span);
      if (this.used.has(id)) continue;
      this.used.add(id);
      this.byInterface.set(iface, id);
      this.next = id === this.last ? this.first : id + 1;
      return id;
    }
    throw Object.assign(new Error(`ENOSPC: every packet fan-out group id mcrd uses (${span}) is taken by an input interface: ` +
      'remove the rules of interfaces that are gone'), { code: 'ENOSPC' });
  }

  /** The interface's group is free again: call once its workers' sockets are closed. */
  release(iface: string): void {
    const id = this.byInterface.get(iface);
    if (id === undefined) return;
    this.byInterface.delete(iface);
    this.used.delete(id);
  }
}
