/**
 * Interface events from the interface watcher's debounced reports
 * (net/interface-watcher.ts). A report only names the interfaces that
 * changed; what changed is found by comparing each named interface with
 * what this class saw of it at the previous report: it appeared, vanished,
 * was re-created (same name, new index), went up or down, or its IPv4
 * addresses changed (before and after). A burst the watcher folded into one
 * report (an address replaced) is one event, as the fleet sees it.
 */
import type { EventSink } from './event-kinds.js';

/** What this needs of an interface (InterfaceWatcher.get()). */
export interface InterfaceSnapshot {
  ifindex: number;
  up: boolean;
  addresses: string[];
}

export interface InterfaceLookup {
  get(name: string): InterfaceSnapshot | undefined;
  names(): string[];
}

export class InterfaceEvents {
  private readonly known = new Map<string, InterfaceSnapshot>();

  /** Takes the interfaces that exist now as the starting point: they are not events. */
  constructor(private readonly view: InterfaceLookup, private readonly events: EventSink) {
    for (const name of view.names()) this.remember(name);
  }

  /** One report of the watcher: `names` are the interfaces it says changed (links and addresses together). */
  changed(names: Iterable<string>): void {
    for (const name of [...new Set(names)].sort()) {
      const before = this.known.get(name);
      const after = this.remember(name);
      if (before === undefined && after === undefined) continue;
      if (before === undefined && after !== undefined) {
        this.events.record('interface.appeared', { interface: name, ifindex: after.ifindex, up: after.up, addresses: after.addresses });
        continue;
      }
      if (after === undefined && before !== undefined) {
        this.events.record('interface.vanished', { interface: name, ifindex: before.ifindex });
        continue;
      }
      if (before === undefined || after === undefined) continue;
      if (before.ifindex !== after.ifindex) {
        this.events.record('interface.recreated', { interface: name, ifindex: after.ifindex, previousIfindex: before.ifindex });
      }
      if (before.up !== after.up) this.events.record(after.up ? 'interface.up' : 'interface.down', { interface: name, ifindex: after.ifindex });
      if (before.addresses.join(',') !== after.addresses.join(',')) {
        this.events.record('interface.address-changed', { interface: name, before: before.addresses, after: after.addresses });
      }
    }
  }

  private remember(name: string): InterfaceSnapshot | undefined {
    const now = this.view.get(name);
    if (now === undefined) {
      this.known.delete(name);
      return undefined;
    }
    const snapshot = { ifindex: now.ifindex, up: now.up, addresses: [...now.addresses].sort() };
    this.known.set(name, snapshot);
    return snapshot;
  }
}
