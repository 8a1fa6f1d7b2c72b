/**
 * `mcrctl events [--follow] [--last N]`: mcrd's recent events (the last
 * 1000 it keeps, or the last N), and with --follow (after the last 10, as
 * tail -f) every new one as it happens until interrupted. --json prints {"events": [...]} without
 * --follow, and one compact JSON object per event per line (NDJSON) with
 * it, so a follow can be piped into jq or a log shipper. Each event is
 * {seq, timeMs, time (ISO 8601), kind, fields}; readably it is one line:
 * time, kind, then its fields as key=value.
 *
 * When mcrd drops a follower that did not read, the stream ends with
 * ERR_MCR_SLOW_FOLLOWER (how many events were missed): exit status 1.
 */
import type { Command } from 'commander';
import type { ControlClient } from '../../common/control-client.js';
import type { Draft, Event, EventsRequest } from '../../proto/index.js';

/** An event as --json prints it: the fields parsed, the time also as text. */
export interface EventJson {
  seq: number;
  timeMs: number;
  time: string;
  kind: string;
  fields: Record<string, unknown>;
}

export function eventJson(e: Event): EventJson {
  let fields: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(e.fields);
    fields = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : { value: parsed };
  } catch {
    // From an mcrd that is not this version's: show what came.
    fields = { text: e.fields };
  }
  return { seq: e.seq, timeMs: e.timeMs, time: new Date(e.timeMs).toISOString(), kind: e.kind, fields };
}

/** A value as key=value shows it: words bare, text with spaces quoted, lists comma-separated. */
function value(v: unknown): string {
  if (v === null) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map(value).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  const text = String(v);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** "outputs[0].port 6000->6001", as reload prints a field change. */
function fieldChange(f: { field?: unknown; before?: unknown; after?: unknown }): string {
  const side = (x: unknown): string => (typeof x === 'string' && x !== '' ? x : '(unset)');
  return `${String(f.field)} ${side(f.before)}->${side(f.after)}`;
}

interface ChangeJson { kind?: unknown; rule?: unknown; previous?: unknown; fields?: Array<{ field?: unknown; before?: unknown; after?: unknown }> }

function reloadChange(c: ChangeJson): string {
  const was = c.previous !== undefined ? ` (was ${String(c.previous)})` : '';
  const fields = (c.fields ?? []).length > 0 ? `: ${(c.fields ?? []).map(fieldChange).join(', ')}` : '';
  return `${String(c.kind)} rule ${String(c.rule)}${was}${fields}`;
}

/** One readable line: "2026-12-03T21:22:07.123Z  rule.added  rule=3 match="in1 239.1.1.1:5000" by=control". */
export function renderEvent(e: Event): string {
  const { time, kind, fields } = eventJson(e);
  const parts: string[] = [];
  for (const [key, v] of Object.entries(fields)) {
    if (kind === 'rule.changed' && key === 'fields' && Array.isArray(v)) parts.push(`changes=${JSON.stringify((v as ChangeJson['fields'] ?? []).map(fieldChange).join(', '))}`);
    else if (kind === 'reload.applied' && key === 'changes' && Array.isArray(v)) {
      if (v.length > 0) parts.push(`changes=${JSON.stringify((v as ChangeJson[]).map(reloadChange).join('; '))}`);
    } else parts.push(`${key}=${value(v)}`);
  }
  return `${time}  ${kind.padEnd(25)}  ${parts.join(' ')}`.trimEnd();
}

/** Events a --follow prints before the new ones when --last is not given. */
export const FOLLOW_FIRST = 10;

export interface EventsFlags {
  follow?: boolean;
  last?: number;
}

/**
 * Runs the events command on a connected client: prints through `print`
 * (lines without their newline); returns when the answer is printed or the
 * follow ends. An interrupted follow (the caller's signal) ends quietly.
 */
export async function runEvents(client: ControlClient, flags: EventsFlags, asJson: boolean, print: (lines: string[]) => void,
  printJson: (value: unknown) => void, interrupted: () => boolean): Promise<void> {
  // A follow starts like tail -f: the last 10 unless --last says otherwise.
  const request: Draft<EventsRequest> = { follow: flags.follow === true, last: flags.last ?? (flags.follow === true ? FOLLOW_FIRST : 0) };
  if (flags.follow !== true) {
    const result = await client.request({ kind: 'events', ...request });
    if (asJson) printJson({ events: result.events.map(eventJson) });
    else print(result.events.length > 0 ? result.events.map(renderEvent) : ['no events yet']);
    return;
  }
  try {
    for await (const batch of client.stream({ kind: 'events', ...request })) {
      print(batch.events.map((e) => (asJson ? JSON.stringify(eventJson(e)) : renderEvent(e))));
    }
  } catch (err) {
    // Interrupting is how a follow normally ends.
    if (!interrupted()) throw err;
  }
}

/** Options of the command, attached by commands.ts (which owns the program and the session). */
export function eventsOptions(cmd: Command, integer: (min: number, max: number) => (v: string) => number): Command {
  return cmd
    .description("print mcrd's recent events (rule, worker, interface, reload, counter and stream changes); --follow for new ones")
    .option('--follow', 'keep printing new events as they happen until interrupted')
    .option('--last <n>', `only the n most recent (default: all mcrd keeps, the last 1000; with --follow ${FOLLOW_FIRST})`, integer(1, 1000));
}
