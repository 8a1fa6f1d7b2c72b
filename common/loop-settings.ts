/**
 * The relay loop's throughput settings that mcrd hands to every worker
 * (docs/mcrd.md, "Throughput settings"): a pause after each walk of the
 * ring (coalescing) and polling without sleeping while traffic flows (busy
 * polling). One table gives each its config key, command-line flag and
 * limit, so mcrd's flags, the config file, the worker's argv and mcr-relay
 * accept and reject the same values and pass them on the same way.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { native } from '../native/index.js';

export interface LoopSettings {
  /** After a walk of the ring that forwarded frames, pause this many µs; 0 = off. */
  coalesceUs?: number;
  /** Keep polling this many µs after the last frame before sleeping; 0 = off. */
  busyPollUs?: number;
}

export type LoopSettingKey = keyof LoopSettings;

export interface LoopSetting {
  key: LoopSettingKey;
  /** Command-line flag without the dashes (mcrd, fleet-worker, mcr-relay). */
  flag: string;
  /** Largest value the native loop accepts: read from the addon, which defines it (loopOptionRanges). */
  readonly max: number;
  help: string;
}

const maxOf = (key: LoopSettingKey): number => native.loopOptionRanges()[key].max;

export const LOOP_SETTINGS: readonly LoopSetting[] = [
  {
    key: 'coalesceUs',
    flag: 'coalesce-us',
    get max() { return maxOf('coalesceUs'); },
    help: 'pause this long after a walk of the ring that forwarded frames, so each send carries more datagrams',
  },
  {
    key: 'busyPollUs',
    flag: 'busy-poll-us',
    get max() { return maxOf('busyPollUs'); },
    help: 'keep polling without sleeping this long after the last frame, so the core stays awake for the next (costs the core while traffic flows)',
  },
];

/** Why `value` is not a valid setting (the text an error shows after the field or flag), or undefined when it is. */
export function checkLoopSetting(setting: LoopSetting, value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= setting.max) return undefined;
  return `expected an integer 0..${setting.max} (microseconds; 0 = off)`;
}

/** Parses a flag's text; throws Error with checkLoopSetting's text. */
export function parseLoopSetting(setting: LoopSetting, text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  const why = checkLoopSetting(setting, n);
  if (why !== undefined) throw new Error(why);
  return n;
}

/** Adds every setting as `--FLAG <us>` to a commander program (mcrd, mcr-relay), refusing bad values with the shared text. */
export function addLoopSettingOptions(program: Command, helpSuffix: (s: LoopSetting) => string): void {
  for (const setting of LOOP_SETTINGS) {
    program.option(`--${setting.flag} <us>`, `${setting.help} ${helpSuffix(setting)}`, (v: string) => {
      try {
        return parseLoopSetting(setting, v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    });
  }
}

/** The worker's argv for the settings that are on (0 and unset pass nothing). */
export function loopSettingArgs(settings: LoopSettings): string[] {
  return LOOP_SETTINGS.flatMap((s) => (settings[s.key] ? [`--${s.flag}`, String(settings[s.key])] : []));
}

/** The settings back from a worker's argv (`arg` looks a flag up, undefined when absent). */
export function loopSettingsFromArgs(arg: (flag: string) => string | undefined): LoopSettings {
  const out: LoopSettings = {};
  for (const s of LOOP_SETTINGS) {
    const text = arg(s.flag);
    if (text !== undefined) out[s.key] = parseLoopSetting(s, text);
  }
  return out;
}
