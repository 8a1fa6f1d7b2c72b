/**
 * The relay loop's throughput settings that mcrd hands to every worker
 * (docs/mcrd.md, "Throughput settings"): a pause after each walk of the
 * ring (coalescing) and how the loop waits between walks (busy polling).
 * One table gives each its config key, command-line flag and limit, so
 * mcrd's flags, the config file, the worker's argv and mcr-relay accept and
 * reject the same values and pass them on the same way. Busy polling also
 * takes "auto", its default: the loop's adaptive policy
 * (native/core/poll_policy.h), which never polls and, while the loop is
 * busy with frames that arrive one by one, pauses briefly after each walk
 * so sends carry more datagrams. The loop thread's real-time priority
 * ("auto" by default: SCHED_FIFO where the process's RLIMIT_RTPRIO grants
 * it, resolveRealtime) and its scheduler slice ("auto" by default:
 * 100 µs where the kernel takes one) are passed the same way.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { native } from '../native/index.js';
import { realtimePriorityLimit } from './process-limits.js';

export interface LoopSettings {
  /** After a walk of the ring that forwarded frames, pause this many µs; 0 = off. */
  coalesceUs?: number;
  /** "auto" (the default): never poll, pause briefly after each walk while the loop is busy; N: keep polling N µs after the last frame; 0 = never poll nor pause. */
  busyPollUs?: number | 'auto';
  /** "auto" (the default): SCHED_FIFO at up to AUTO_LOOP_RT_PRIORITY where RLIMIT_RTPRIO grants it, else the normal policy; N (1..99): SCHED_FIFO at N or refuse to start; 0: the normal policy. */
  loopRtPriority?: number | 'auto';
  /** "auto" (the default): a 100 µs scheduler slice for the loop thread where the kernel takes one (Linux 6.12), else the kernel's; N: N µs (100..100000) or refuse to start; 0: the kernel's. */
  loopSliceUs?: number | 'auto';
}

export type LoopSettingKey = keyof LoopSettings;

export interface LoopSetting {
  key: LoopSettingKey;
  /** Command-line flag without the dashes (mcrd, fleet-worker, mcr-relay). */
  flag: string;
  /** Largest value the native loop accepts: read from the addon, which defines it (loopOptionRanges). */
  readonly max: number;
  help: string;
  /** What an unset setting means (nothing is passed to a worker for it). */
  default: number | 'auto';
  /** Also accepts the word "auto". */
  auto: boolean;
  /** What the number counts, for error texts. */
  unit: string;
  /** The number's name in --help: its placeholder (`<auto|us>`) and the unit before its range. */
  valueName: 'us' | 'n';
  /** The unit before its range in --help ("µs, 0..10000"). */
  helpUnit: string;
  /** Smallest value other than 0 (which always means off or the default). */
  min?: number;
}

const maxOf = (key: LoopSettingKey): number => native.loopOptionRanges()[key].max;

export const LOOP_SETTINGS: readonly LoopSetting[] = [
  {
    key: 'coalesceUs',
    flag: 'coalesce-us',
    get max() { return maxOf('coalesceUs'); },
    help: 'pause this long after a walk of the ring that forwarded frames, so each send carries more datagrams',
    default: 0,
    auto: false,
    unit: 'microseconds; 0 = off',
    valueName: 'us',
    helpUnit: 'µs',
  },
  {
    key: 'busyPollUs',
    flag: 'busy-poll-us',
    get max() { return maxOf('busyPollUs'); },
    help: 'auto: never poll; while the loop is busy with frames that arrive one by one, pause after each walk (20-100 µs, the time 8 frames take to arrive) so sends carry more datagrams; N: keep polling N µs after the last frame (costs the core while traffic flows); 0: never poll nor pause',
    default: 'auto',
    auto: true,
    unit: 'microseconds; 0 = off',
    valueName: 'us',
    helpUnit: 'µs',
  },
  {
    key: 'loopRtPriority',
    flag: 'loop-rt-priority',
    get max() { return maxOf('loopRtPriority'); },
    help: 'auto: run the loop thread under SCHED_FIFO at priority 10 (or the lower limit) where the process\'s real-time limit grants it (RLIMIT_RTPRIO: ulimit -r; for mcrd LimitRTPRIO= in its unit, which the packaged one sets), so no normal task (a kernel thread, another program) delays it once a frame has woken it, and under the normal policy where the limit is 0, with a fixed --busy-poll-us or with --loop-slice-us given; N: SCHED_FIFO at N, which needs CAP_SYS_NICE or that limit (in a unit also RestrictRealtime=no), or the loop refuses to start; 0: the normal policy',
    default: 'auto',
    auto: true,
    unit: 'SCHED_FIFO priority; 0 = the normal policy',
    valueName: 'n',
    helpUnit: 'SCHED_FIFO priority',
  },
  {
    key: 'loopSliceUs',
    flag: 'loop-slice-us',
    get max() { return maxOf('loopSliceUs'); },
    help: 'auto: give each worker\'s loop thread a 100 µs scheduler slice where the kernel takes one (Linux 6.12 or later; no privilege needed), the kernel\'s slice where it does not (mcrd --check-host says which), so a woken loop preempts a task on its core at once instead of at the next scheduler tick; N: a slice of N µs (100-100000), or the worker refuses to start; 0: the kernel\'s slice; ignored while the loop runs SCHED_FIFO (--loop-rt-priority)',
    default: 'auto',
    auto: true,
    unit: 'microseconds; 0 = the kernel\'s',
    valueName: 'us',
    helpUnit: 'µs',
    min: 100,
  },
];

/** Every setting at its default: what mcrd uses when neither its flags nor its config file set one. */
export function loopSettingDefaults(): Required<LoopSettings> {
  return Object.fromEntries(LOOP_SETTINGS.map((s) => [s.key, s.default])) as Required<LoopSettings>;
}

/** Why `value` is not a valid setting (the text an error shows after the field or flag), or undefined when it is. */
export function checkLoopSetting(setting: LoopSetting, value: unknown): string | undefined {
  if (setting.auto && value === 'auto') return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= setting.max && (value === 0 || value >= (setting.min ?? 0))) return undefined;
  const range = setting.min === undefined ? `0..${setting.max}` : `0 or ${setting.min}..${setting.max}`;
  return setting.auto
    ? `expected "auto" or an integer ${range} (${setting.unit})`
    : `expected an integer ${range} (${setting.unit})`;
}

/** Parses a flag's text; throws Error with checkLoopSetting's text. */
export function parseLoopSetting(setting: LoopSetting, text: string): number | 'auto' {
  const value = setting.auto && text === 'auto' ? 'auto' : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  const why = checkLoopSetting(setting, value);
  if (why !== undefined) throw new Error(why);
  return value;
}

/** Adds every setting as `--FLAG <us>` to a commander program (mcrd, mcr-relay), refusing bad values with the shared text. */
export function addLoopSettingOptions(program: Command, helpSuffix: (s: LoopSetting) => string): void {
  for (const setting of LOOP_SETTINGS) {
    program.option(`--${setting.flag} <${setting.auto ? `auto|${setting.valueName}` : setting.valueName}>`, `${setting.help} ${helpSuffix(setting)}`, (v: string) => {
      try {
        return parseLoopSetting(setting, v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    });
  }
}

/** The worker's argv for the settings that differ from their defaults (unset and default values pass nothing). */
export function loopSettingArgs(settings: LoopSettings): string[] {
  return LOOP_SETTINGS.flatMap((s) => {
    const value = settings[s.key];
    return value === undefined || value === s.default ? [] : [`--${s.flag}`, String(value)];
  });
}

/** The settings back from a worker's argv (`arg` looks a flag up, undefined when absent). */
export function loopSettingsFromArgs(arg: (flag: string) => string | undefined): LoopSettings {
  const out: LoopSettings = {};
  for (const s of LOOP_SETTINGS) {
    const text = arg(s.flag);
    // "auto" comes back only for a setting that accepts it (parseLoopSetting).
    if (text !== undefined) (out as Record<LoopSettingKey, number | 'auto'>)[s.key] = parseLoopSetting(s, text);
  }
  return out;
}

/** The SCHED_FIFO priority "auto" takes where RLIMIT_RTPRIO allows it (a lower limit gives that lower priority). */
export const AUTO_LOOP_RT_PRIORITY = 10;

/** The settings that decide the loop thread's scheduling policy. */
export type RealtimeSettings = Pick<LoopSettings, 'loopRtPriority' | 'busyPollUs' | 'loopSliceUs'>;

/** How a resolved policy came about (realtimeText says it in words). */
export type RealtimeReason = 'given' | 'limit' | 'no-limit' | 'busy-poll' | 'slice';

/**
 * The loop thread's SCHED_FIFO priority the settings mean for a process
 * whose RLIMIT_RTPRIO soft limit is `rtprioLimit` (0: the normal policy),
 * and why. A priority given as a number is taken as it is. "auto" asks
 * only for what that limit grants: it is how an operator gives a service
 * real-time priority (LimitRTPRIO= in its unit, rtprio in limits.conf), it
 * outlives the worker's switch to its user, so a loop that stepped down
 * from a saturation can come back (native/core/realtime_guard.h), and a
 * kernel that refuses it anyway leaves the normal policy, never a failed
 * start (the addon's loopRtBestEffort). Under "auto" two other settings
 * keep the normal policy, since they only make sense there: a fixed
 * --busy-poll-us (a polling loop needs its whole core while traffic flows,
 * so a real-time one would step down 100 ms into every stream) and a
 * --loop-slice-us given as a number (a slice is a normal-policy setting).
 */
export function resolveRealtime(settings: RealtimeSettings, rtprioLimit: number): { priority: number; reason: RealtimeReason } {
  const setting = settings.loopRtPriority ?? 'auto';
  if (setting !== 'auto') return { priority: setting, reason: 'given' };
  if (typeof settings.busyPollUs === 'number' && settings.busyPollUs > 0) return { priority: 0, reason: 'busy-poll' };
  if (typeof settings.loopSliceUs === 'number') return { priority: 0, reason: 'slice' };
  const priority = Math.max(0, Math.min(rtprioLimit, AUTO_LOOP_RT_PRIORITY));
  return { priority, reason: priority > 0 ? 'limit' : 'no-limit' };
}

/**
 * The addon's options for a loop of this process (a worker, mcr-relay),
 * resolved with its own RLIMIT_RTPRIO, which a worker inherits from mcrd:
 * the priority, and whether a refusal falls back to the normal policy
 * ("auto") or fails the start (a number).
 */
export function loopRealtimeOptions(settings: RealtimeSettings): { loopRtPriority: number; loopRtBestEffort: boolean } {
  const { priority, reason } = resolveRealtime(settings, realtimePriorityLimit());
  return { loopRtPriority: priority, loopRtBestEffort: reason !== 'given' };
}

/** The policy the settings give this process's loops, in words (mcrd's start-up line, its host check, mcr-relay). */
export function realtimeText(settings: RealtimeSettings, rtprioLimit: number): string {
  const { priority, reason } = resolveRealtime(settings, rtprioLimit);
  const tail = 'a woken loop can wait behind a kernel thread on its core, which lengthens the latency tail (docs/mcrd.md, --loop-rt-priority)';
  switch (reason) {
    case 'given': return priority > 0 ? `the loop threads run SCHED_FIFO at priority ${priority} (--loop-rt-priority ${priority})`
      : 'the loop threads run under the normal policy (--loop-rt-priority 0)';
    case 'limit': return `the loop threads run SCHED_FIFO at priority ${priority} (--loop-rt-priority auto: RLIMIT_RTPRIO is ${rtprioLimit})`;
    case 'no-limit': return `the loop threads run under the normal policy (--loop-rt-priority auto: RLIMIT_RTPRIO is 0): ${tail}`;
    case 'busy-poll': return `the loop threads run under the normal policy (--loop-rt-priority auto with --busy-poll-us ${String(settings.busyPollUs)}: a polling loop would step down from SCHED_FIFO 100 ms into every stream)`;
    case 'slice': return `the loop threads run under the normal policy (--loop-rt-priority auto with --loop-slice-us ${String(settings.loopSliceUs)}: a slice is a normal-policy setting)`;
  }
}

/** What a refused "auto" SCHED_FIFO means, after the kernel's reason (the worker's and mcr-relay's warning, mcrd --check-host). */
export function realtimeRefusedText(priority: number, reason: string): string {
  return `the loop thread runs under the normal policy: SCHED_FIFO at ${priority} was refused although RLIMIT_RTPRIO allows it (--loop-rt-priority auto: ${reason}), ` +
    'as a unit with RestrictRealtime=yes, a seccomp filter or a cgroup without real-time time does; allow it there, or set --loop-rt-priority 0 for no warning';
}

/** The slice "auto" asks the kernel for (µs). */
export const AUTO_LOOP_SLICE_US = 100;

/** What a refused "auto" slice means and what to do, after the kernel's reason (mcr-relay's warning, mcrd --check-host). */
export function sliceRefusedText(reason: string): string {
  return `the loop thread runs with the kernel's scheduler slice (--loop-slice-us auto: ${reason}): a woken loop may wait up to one ` +
    `scheduler tick behind another task on its core; Linux 6.12 or later gives it a ${AUTO_LOOP_SLICE_US} µs slice, and --loop-slice-us 0 ` +
    'asks for the kernel\'s slice without this warning';
}
