/**
 * Regression tests for what the JavaScript fuzzers (tests/fuzz/js, `npm run
 * fuzz`) found, one test per finding, each named for the corpus file that
 * replays it (tests/fuzz/corpus/<harness>/crash-*); docs/reliability.md,
 * "Fuzzing", tells the story of each.
 */
import t from 'tap';
import { formatConfig, parseConfig } from '../../supervisor/config/index.js';

t.test('config_loader crash-format-consume-inputs-boolean: formatConfig writes daemon.consumeInputs, and it loads back', async (t) => {
  for (const consumeInputs of [true, false]) {
    const config = parseConfig(`{ daemon: { consumeInputs: ${consumeInputs}, workers: 2 } }`, 'x.json5');
    const text = formatConfig(config);
    t.match(text, new RegExp(`consumeInputs: ${consumeInputs},`));
    t.same(parseConfig(text, 'saved.json5'), config);
  }
});
