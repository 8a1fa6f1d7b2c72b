/**
 * What a reload cannot apply: the `daemon` section holds settings mcrd reads
 * once, at its start (workers, CPUs, the user, the loop settings, the
 * control socket, metrics, limits), so a reload applies the rules alone. A
 * file whose daemon section was edited since would otherwise reload "fine"
 * with the edit silently not in force; this names each such field, before
 * and after, for the reload's answer and mcrd's log.
 */
import type { DaemonSettings } from './schema.js';

const shown = (v: unknown): string => (v === undefined ? '(unset)' : typeof v === 'string' ? v : JSON.stringify(v));

/** "field before -> after" for each daemon field that differs between the two sections, by field name. */
export function daemonChanges(started: Partial<DaemonSettings>, reloaded: Partial<DaemonSettings>): string[] {
  const fields = [...new Set([...Object.keys(started), ...Object.keys(reloaded)])].sort() as Array<keyof DaemonSettings>;
  return fields.filter((f) => JSON.stringify(started[f]) !== JSON.stringify(reloaded[f]))
    .map((f) => `${f} ${shown(started[f])} -> ${shown(reloaded[f])}`);
}
