/**
 * The loop settings mcrd hands its workers: the argv written for a worker
 * reads back to the same settings, 0 and unset pass nothing, and a value
 * outside a setting's range or not a plain integer is refused with the
 * text the config loader and mcrd's flags show.
 */
import t from 'tap';
import { checkLoopSetting, LOOP_SETTINGS, loopSettingArgs, loopSettingsFromArgs, parseLoopSetting } from '../../common/loop-settings.js';

const lookup = (argv: string[]) => (flag: string): string | undefined => {
  const i = argv.indexOf(`--${flag}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

t.test('argv round trip', async (t) => {
  const settings = { coalesceUs: 20, busyPollUs: 1000 };
  const argv = loopSettingArgs(settings);
  t.same(argv, ['--coalesce-us', '20', '--busy-poll-us', '1000']);
  t.same(loopSettingsFromArgs(lookup(argv)), settings);
  t.same(loopSettingArgs({ coalesceUs: 0 }), [], '0 is off: nothing passed');
  t.same(loopSettingArgs({}), []);
  t.same(loopSettingsFromArgs(lookup([])), {}, 'nothing given, nothing set');
});

t.test('limits and refusals', async (t) => {
  for (const s of LOOP_SETTINGS) {
    t.equal(checkLoopSetting(s, 0), undefined, `${s.key}: 0 accepted`);
    t.equal(checkLoopSetting(s, s.max), undefined, `${s.key}: its maximum accepted`);
    for (const bad of [s.max + 1, -1, 1.5, '10', null]) {
      t.equal(checkLoopSetting(s, bad), `expected an integer 0..${s.max} (microseconds; 0 = off)`, `${s.key}: ${JSON.stringify(bad)} refused`);
    }
    for (const text of ['1e3', ' 5', '-1', '', String(s.max + 1)]) {
      t.throws(() => parseLoopSetting(s, text), { message: `expected an integer 0..${s.max} (microseconds; 0 = off)` }, `${s.key}: "${text}" refused`);
    }
    t.equal(parseLoopSetting(s, '7'), 7);
  }
  t.throws(() => loopSettingsFromArgs(lookup(['--busy-poll-us', 'x'])), /expected an integer 0\.\.1000000/, 'a bad worker argument throws');
});
