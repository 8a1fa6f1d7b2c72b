/**
 * The loop settings mcrd hands its workers: the argv written for a worker
 * reads back to the same settings, unset and default values pass nothing
 * (coalescing 0, busy polling "auto"), busy polling 0 (never poll) is
 * passed, and a value outside a setting's range or not a plain integer
 * (or "auto" where it is accepted) is refused with the text the config
 * loader and mcrd's flags show.
 */
import t from 'tap';
import { AUTO_LOOP_RT_PRIORITY, checkLoopSetting, LOOP_SETTINGS, loopSettingArgs, loopSettingsFromArgs, parseLoopSetting, realtimeRefusedText, realtimeText, resolveRealtime } from '../../common/loop-settings.js';
import { softLimitIn } from '../../common/process-limits.js';

const lookup = (argv: string[]) => (flag: string): string | undefined => {
  const i = argv.indexOf(`--${flag}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

t.test('argv round trip', async (t) => {
  const settings = { coalesceUs: 20, busyPollUs: 1000 };
  const argv = loopSettingArgs(settings);
  t.same(argv, ['--coalesce-us', '20', '--busy-poll-us', '1000']);
  t.same(loopSettingsFromArgs(lookup(argv)), settings);
  t.same(loopSettingArgs({ coalesceUs: 0 }), [], 'coalescing 0 is its default: nothing passed');
  t.same(loopSettingArgs({ busyPollUs: 'auto' }), [], 'busy polling "auto" is its default: nothing passed');
  t.same(loopSettingArgs({ busyPollUs: 0 }), ['--busy-poll-us', '0'], 'busy polling 0 (never) is passed: it is not the default');
  t.same(loopSettingsFromArgs(lookup(['--busy-poll-us', '0'])), { busyPollUs: 0 });
  t.same(loopSettingsFromArgs(lookup(['--busy-poll-us', 'auto'])), { busyPollUs: 'auto' });
  t.same(loopSettingArgs({ loopRtPriority: 10 }), ['--loop-rt-priority', '10'], 'a real-time priority goes to the worker');
  t.same(loopSettingArgs({ loopRtPriority: 0 }), ['--loop-rt-priority', '0'], 'the normal policy, asked for, goes to the worker');
  t.same(loopSettingArgs({ loopRtPriority: 'auto' }), [], 'the limit\'s priority (the default) passes nothing: the worker resolves it');
  t.same(loopSettingsFromArgs(lookup(['--loop-rt-priority', 'auto'])), { loopRtPriority: 'auto' });
  t.same(loopSettingsFromArgs(lookup(['--loop-rt-priority', '10'])), { loopRtPriority: 10 });
  t.equal(LOOP_SETTINGS.find((x) => x.key === 'loopRtPriority')?.max, 99, 'SCHED_FIFO priorities end at 99 (the addon\'s range)');
  t.same(loopSettingArgs({ loopSliceUs: 100 }), ['--loop-slice-us', '100'], 'a loop slice goes to the worker');
  t.same(loopSettingArgs({ loopSliceUs: 0 }), ['--loop-slice-us', '0'], 'the kernel\'s slice, asked for, goes to the worker');
  t.same(loopSettingArgs({ loopSliceUs: 'auto' }), [], 'the best-effort slice (the default) passes nothing');
  t.same(loopSettingsFromArgs(lookup(['--loop-slice-us', '100'])), { loopSliceUs: 100 });
  t.same(loopSettingsFromArgs(lookup(['--loop-slice-us', 'auto'])), { loopSliceUs: 'auto' });
  t.equal(LOOP_SETTINGS.find((x) => x.key === 'loopSliceUs')?.max, 100000, 'a slice ends at 100 ms (the addon\'s range, the kernel\'s bound)');
  t.same(loopSettingArgs({}), []);
  t.same(loopSettingsFromArgs(lookup([])), {}, 'nothing given, nothing set');
});

t.test('limits and refusals', async (t) => {
  for (const s of LOOP_SETTINGS) {
    const unit = s.key === 'loopRtPriority' ? 'SCHED_FIFO priority; 0 = the normal policy' : s.key === 'loopSliceUs' ? 'microseconds; 0 = the kernel\'s' : 'microseconds; 0 = off';
    const range = s.min === undefined ? `0..${s.max}` : `0 or ${s.min}..${s.max}`;
    const why = s.auto ? `expected "auto" or an integer ${range} (${unit})` : `expected an integer ${range} (${unit})`;
    t.equal(checkLoopSetting(s, 0), undefined, `${s.key}: 0 accepted`);
    t.equal(checkLoopSetting(s, s.max), undefined, `${s.key}: its maximum accepted`);
    t.equal(checkLoopSetting(s, 'auto'), s.auto ? undefined : why, `${s.key}: "auto" ${s.auto ? 'accepted' : 'refused'}`);
    for (const bad of [s.max + 1, -1, 1.5, '10', 'AUTO', null]) {
      t.equal(checkLoopSetting(s, bad), why, `${s.key}: ${JSON.stringify(bad)} refused`);
    }
    for (const text of ['1e3', ' 5', '-1', '', 'Auto', String(s.max + 1)]) {
      t.throws(() => parseLoopSetting(s, text), { message: why }, `${s.key}: "${text}" refused`);
    }
    const some = s.min ?? 7;
    t.equal(parseLoopSetting(s, String(some)), some);
    const min = s.min;
    if (min !== undefined) {
      t.equal(checkLoopSetting(s, min - 1), why, `${s.key}: below its minimum refused`);
      t.throws(() => parseLoopSetting(s, String(min - 1)), { message: why }, `${s.key}: "${min - 1}" refused`);
    }
  }
  t.equal(LOOP_SETTINGS.find((s) => s.key === 'loopSliceUs')?.min, 100, 'a slice starts at the kernel\'s 100 µs');
  t.equal(LOOP_SETTINGS.find((s) => s.key === 'busyPollUs')?.default, 'auto', 'busy polling defaults to the adaptive policy');
  t.equal(LOOP_SETTINGS.find((s) => s.key === 'loopSliceUs')?.default, 'auto', 'the loop slice defaults to best effort');
  t.throws(() => loopSettingsFromArgs(lookup(['--busy-poll-us', 'x'])), /expected "auto" or an integer 0\.\.1000000/, 'a bad worker argument throws');
});

t.test('the loop\'s real-time priority: "auto" takes what RLIMIT_RTPRIO grants, up to 10, unless a fixed busy poll or a slice asks for the normal policy; a number stays', async (t) => {
  t.equal(AUTO_LOOP_RT_PRIORITY, 10);
  for (const [limit, want] of [[0, 0], [1, 1], [9, 9], [10, 10], [50, 10], [99, 10]] as const) {
    t.same(resolveRealtime({ loopRtPriority: 'auto' }, limit), { priority: want, reason: want > 0 ? 'limit' : 'no-limit' }, `auto under RLIMIT_RTPRIO ${limit}: ${want}`);
    t.same(resolveRealtime({}, limit), resolveRealtime({ loopRtPriority: 'auto' }, limit), `unset is auto (limit ${limit})`);
  }
  t.same(resolveRealtime({ loopRtPriority: 0 }, 99), { priority: 0, reason: 'given' }, '0 stays the normal policy under any limit');
  t.same(resolveRealtime({ loopRtPriority: 20 }, 0), { priority: 20, reason: 'given' }, 'a number is asked for as it is (the start fails without the privilege)');
  t.same(resolveRealtime({ busyPollUs: 1000 }, 10), { priority: 0, reason: 'busy-poll' }, 'auto with a fixed busy poll: the normal policy');
  t.same(resolveRealtime({ busyPollUs: 0 }, 10), { priority: 10, reason: 'limit' }, 'never polling is no reason against it');
  t.same(resolveRealtime({ busyPollUs: 'auto' }, 10), { priority: 10, reason: 'limit' });
  t.same(resolveRealtime({ loopSliceUs: 200 }, 10), { priority: 0, reason: 'slice' }, 'auto with a slice given: the normal policy');
  t.same(resolveRealtime({ loopSliceUs: 0 }, 10), { priority: 0, reason: 'slice' }, 'the kernel\'s slice given is one too');
  t.same(resolveRealtime({ loopSliceUs: 'auto' }, 10), { priority: 10, reason: 'limit' });
  t.same(resolveRealtime({ loopRtPriority: 5, busyPollUs: 1000, loopSliceUs: 200 }, 0), { priority: 5, reason: 'given' }, 'a number wins over both');
  t.match(realtimeText({}, 0), /^the loop threads run under the normal policy \(--loop-rt-priority auto: RLIMIT_RTPRIO is 0\): .*latency tail/);
  t.equal(realtimeText({}, 50), 'the loop threads run SCHED_FIFO at priority 10 (--loop-rt-priority auto: RLIMIT_RTPRIO is 50)');
  t.equal(realtimeText({ loopRtPriority: 20 }, 0), 'the loop threads run SCHED_FIFO at priority 20 (--loop-rt-priority 20)');
  t.equal(realtimeText({ loopRtPriority: 0 }, 10), 'the loop threads run under the normal policy (--loop-rt-priority 0)');
  t.match(realtimeText({ busyPollUs: 1000 }, 10), /normal policy \(--loop-rt-priority auto with --busy-poll-us 1000: .*step down/);
  t.match(realtimeText({ loopSliceUs: 200 }, 10), /normal policy \(--loop-rt-priority auto with --loop-slice-us 200: a slice is a normal-policy setting\)/);
  t.match(realtimeRefusedText(10, 'EPERM: pthread_setschedparam'), /normal policy: SCHED_FIFO at 10 was refused .*\(--loop-rt-priority auto: EPERM: pthread_setschedparam\).*RestrictRealtime=yes.*--loop-rt-priority 0/);
});

t.test('/proc/self/limits: the soft limit of a resource', async (t) => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units     \n' +
    'Max locked memory         8388608              8388608              bytes     \n' +
    'Max nice priority         0                    0                    \n' +
    'Max realtime priority     10                   20                   \n' +
    'Max realtime timeout      unlimited            unlimited            us        \n';
  t.equal(softLimitIn(text, 'Max realtime priority'), 10, 'the soft column, not the hard one');
  t.equal(softLimitIn(text, 'Max locked memory'), 8388608);
  t.equal(softLimitIn(text, 'Max realtime timeout'), Infinity, 'unlimited');
  t.equal(softLimitIn(text, 'Max realtime'), undefined, 'a label must be whole: "Max realtime" is not one');
  t.equal(softLimitIn('', 'Max realtime priority'), undefined, 'no line');
});
