/**
 * bench/cli-int.ts: the one integer parser of the bench and demo command
 * lines takes whole numbers in range and refuses the rest with what is
 * expected (commander shows the message after the option's name).
 */
import { InvalidArgumentError } from 'commander';
import t from 'tap';
import { intOption } from '../../bench/cli-int.js';

t.test('whole numbers in range pass, as numbers', async (t) => {
  t.equal(intOption()('0'), 0);
  t.equal(intOption()('355000'), 355_000);
  t.equal(intOption(18, 1472)('1472'), 1472);
});

t.test('anything else is refused with the expected range', async (t) => {
  for (const bad of ['', '-1', '1e3', '12abc', '1.5', ' 7']) {
    t.throws(() => intOption()(bad), new InvalidArgumentError('expected an integer ≥ 0'), `unbounded: ${JSON.stringify(bad)}`);
  }
  t.throws(() => intOption(18, 1472)('17'), new InvalidArgumentError('expected an integer 18..1472'), 'below the range');
  t.throws(() => intOption(18, 1472)('1473'), new InvalidArgumentError('expected an integer 18..1472'), 'above the range');
});
