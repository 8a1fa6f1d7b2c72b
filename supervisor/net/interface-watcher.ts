/**
 * The supervisor's view of the host's interfaces, kept current from the
 * native netlink monitor (links, IPv4 and IPv6 addresses): which exist, under
 * which index, whether they are administratively up, and their addresses.
 *
 * Changes are reported debounced: a burst (an interface re-created, an
 * address replaced, a hundred VLANs made by a script) becomes one report
 * naming every interface whose existence, index or up flag changed
 * (`links`; a rename names both: the old name vanished, the new one
 * appeared) and every interface whose IPv4 or IPv6 addresses changed
 * (`addresses`: an IPv6 address counts once it left duplicate address
 * detection, native/core/netlink_parser.h),
 * sent 100 ms after the last event of the burst and at most 1 s after its
 * first. Carrier (IFF_RUNNING) changes are tracked but not reported: an
 * AF_PACKET socket on a link without carrier just sees nothing until it
 * returns, so restarting workers for it would only add churn.
 *
 * When the monitor lost events (socket overrun) or failed, the state is
 * rebuilt from a fresh dump and compared with the old one, so the report
 * after it is a true difference.
 */
import type { Logger } from 'pino';
import { native, type InterfaceEvent, type NativeError, type NativeInterfaceMonitor } from '../../native/index.js';

export interface InterfaceState {
  ifindex: number;
  name: string;
  up: boolean;
  running: boolean;
  addresses: string[];
}

export interface InterfaceChange {
  /** Appeared, disappeared, got another index, or went up or down. */
  links: Set<string>;
  /** IPv4 or IPv6 address added or removed. */
  addresses: Set<string>;
  /**
   * The addresses themselves (canonical text) that appeared on or went
   * from any interface, its removal included; unset when none did. An
   * output's `source` may live on another interface than the output's (a
   * VIP on lo, a dummy): the fleet follows it by address.
   */
  addressTexts?: Set<string>;
}

/** What the watcher needs of the addon; tests pass a fake. */
export type MonitorFactory = (callback: (err: NativeError | null, events: InterfaceEvent[] | null) => void) => NativeInterfaceMonitor;

export interface InterfaceWatcherOptions {
  logger: Logger;
  onChange: (change: InterfaceChange) => void;
  debounceMs?: number;
  maxDelayMs?: number;
  /** Delay before a failed monitor is replaced. */
  reopenMs?: number;
  monitor?: MonitorFactory;
}

interface Link {
  ifindex: number;
  name: string;
  up: boolean;
  running: boolean;
  addresses: Set<string>;
}

const SYNC_TIMEOUT_MS = 5000;

export class InterfaceWatcher {
  private links = new Map<number, Link>();
  /** State before a resync, compared with the new one when it completes. */
  private before: Map<number, Link> | undefined;
  private synced = false;
  private monitor: NativeInterfaceMonitor | undefined;
  private readonly pending = { links: new Set<string>(), addresses: new Set<string>(), addressTexts: new Set<string>() };
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private reopenTimer: NodeJS.Timeout | undefined;
  private firstSync: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private closed = false;
  private readonly factory: MonitorFactory;

  constructor(private readonly o: InterfaceWatcherOptions) {
    this.factory = o.monitor ?? ((cb) => new native.InterfaceMonitor(cb));
  }

  /** Opens the monitor and resolves once the first dump is complete. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(
        new Error(`no interface list from netlink within ${SYNC_TIMEOUT_MS} ms: check that mcrd may open NETLINK_ROUTE sockets`),
        { code: 'ETIMEDOUT' })), SYNC_TIMEOUT_MS);
      this.firstSync = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      try {
        this.open();
      } catch (err) {
        this.firstSync.reject(err as Error);
        this.firstSync = undefined;
      }
    });
  }

  /**
   * The state lookups answer from: while a fresh dump is being read (after
   * lost events or a reopened monitor) the last complete one, not the
   * half-read new one, in which every interface not listed yet would look
   * gone (a worker restart then parked its slot as waiting, a rule change
   * released the memberships and filters of every interface).
   */
  private get view(): Map<number, Link> {
    return this.synced || this.before === undefined ? this.links : this.before;
  }

  /** The interface called `name`, if it exists now. */
  get(name: string): InterfaceState | undefined {
    for (const l of this.view.values()) {
      if (l.name === name) return { ifindex: l.ifindex, name: l.name, up: l.up, running: l.running, addresses: [...l.addresses] };
    }
    return undefined;
  }

  /** The name of the interface with this index now, if there is one. */
  nameOf(ifindex: number): string | undefined {
    return this.view.get(ifindex)?.name;
  }

  /** Names of the interfaces that exist now. */
  names(): string[] {
    return [...this.view.values()].map((l) => l.name);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.monitor?.close();
    this.monitor = undefined;
  }

  private open(): void {
    // The first dump is the state, not a change; a reopened monitor's dump is compared with what was known
    // (the last complete state: a monitor that failed mid-dump left a half-read one in `links`).
    this.before = this.firstSync !== undefined ? undefined : this.synced ? this.links : this.before;
    this.links = new Map();
    this.synced = false;
    this.monitor = this.factory((err, events) => this.onEvents(err, events ?? []));
  }

  private onEvents(err: NativeError | null, events: InterfaceEvent[]): void {
    for (const e of events) this.apply(e);
    if (err === null) return;
    // The native side stopped polling: replace the monitor, whose dump then
    // rebuilds the state.
    this.o.logger.error({ code: err.code, err: err.message }, 'interface monitor failed: reopening it');
    this.monitor?.close();
    this.monitor = undefined;
    if (this.closed) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.closed) return;
      try {
        this.open();
      } catch (e) {
        this.onEvents(e as NativeError, []);
      }
    }, this.o.reopenMs ?? 1000);
  }

  private apply(e: InterfaceEvent): void {
    switch (e.type) {
      case 'resync':
        this.o.logger.warn('interface events were lost: re-reading every interface');
        // A dump that restarts before it completed (ENOBUFS, an interrupted
        // dump) keeps the last complete state as the one to answer from and compare with.
        if (this.synced) this.before = this.links;
        this.links = new Map();
        this.synced = false;
        return;
      case 'synced':
        this.synced = true;
        if (this.before !== undefined) this.diff(this.before);
        this.before = undefined;
        if (this.firstSync !== undefined) {
          this.firstSync.resolve();
          this.firstSync = undefined;
        } else {
          this.schedule();
        }
        return;
      case 'link': {
        const old = this.links.get(e.ifindex);
        // Another interface may have held the name (renames): the name now belongs to this index.
        for (const l of this.links.values()) if (l.name === e.name && l.ifindex !== e.ifindex) this.links.delete(l.ifindex);
        this.links.set(e.ifindex, { ifindex: e.ifindex, name: e.name, up: e.up, running: e.running, addresses: old?.addresses ?? new Set() });
        if (old === undefined || old.up !== e.up) this.note('links', e.name);
        if (old !== undefined && old.name !== e.name) {
          // A rename: the old name is gone and the new one appeared, whatever the up flag did
          // (an output interface renamed into place must reach the fleet and the egress resync).
          this.note('links', e.name);
          this.note('links', old.name);
          if (old.addresses.size > 0) this.note('addresses', e.name);
        }
        return;
      }
      case 'linkRemoved': {
        const old = this.links.get(e.ifindex);
        this.links.delete(e.ifindex);
        if (old !== undefined) this.note('links', old.name);
        for (const a of old?.addresses ?? []) this.note('addressTexts', a);
        return;
      }
      case 'addressAdded':
      case 'addressRemoved': {
        const link = this.links.get(e.ifindex);
        if (link === undefined) return;  // its link event comes first; a dump lists links before addresses
        const had = link.addresses.has(e.address);
        if (e.type === 'addressAdded') link.addresses.add(e.address);
        else link.addresses.delete(e.address);
        if (had !== (e.type === 'addressAdded')) {
          this.note('addresses', link.name);
          this.note('addressTexts', e.address);
        }
        return;
      }
    }
  }

  /** After a resync: report every interface whose state differs from before. */
  private diff(before: Map<number, Link>): void {
    const byName = (m: Map<number, Link>): Map<string, Link> => new Map([...m.values()].map((l) => [l.name, l]));
    const a = byName(before);
    const b = byName(this.links);
    for (const name of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(name);
      const y = b.get(name);
      if (x === undefined || y === undefined || x.ifindex !== y.ifindex || x.up !== y.up) this.pending.links.add(name);
      const ax = [...(x?.addresses ?? [])].sort().join(',');
      const ay = [...(y?.addresses ?? [])].sort().join(',');
      if (ax !== ay) this.pending.addresses.add(name);
    }
    const held = (m: Map<number, Link>): Set<string> => new Set([...m.values()].flatMap((l) => [...l.addresses]));
    const was = held(before);
    const now = held(this.links);
    for (const a of was) if (!now.has(a)) this.pending.addressTexts.add(a);
    for (const a of now) if (!was.has(a)) this.pending.addressTexts.add(a);
  }

  private note(kind: 'links' | 'addresses' | 'addressTexts', name: string): void {
    // During a dump every interface shows up as new: the diff at `synced` decides.
    if (!this.synced) return;
    this.pending[kind].add(name);
    this.schedule();
  }

  private schedule(): void {
    if (this.pending.links.size === 0 && this.pending.addresses.size === 0) return;
    const now = Date.now();
    if (this.timer === undefined) this.firstPendingAt = now;
    else clearTimeout(this.timer);
    const wait = Math.min(this.o.debounceMs ?? 100, Math.max(0, this.firstPendingAt + (this.o.maxDelayMs ?? 1000) - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed || !this.synced) return;
    const change: InterfaceChange = { links: new Set(this.pending.links), addresses: new Set(this.pending.addresses),
      ...(this.pending.addressTexts.size > 0 ? { addressTexts: new Set(this.pending.addressTexts) } : {}) };
    this.pending.links.clear();
    this.pending.addresses.clear();
    this.pending.addressTexts.clear();
    this.o.onChange(change);
  }
}
