/**
 * mcrctl's text layout on plain values: the table formatter's alignment and
 * trimming, and the shared formats of outputs, rates and durations.
 */
import t from 'tap';
import { formatDuration, formatInput, formatOutput, formatRate, oneLine, orDash, present, table } from '../../tools/mcrctl/format.js';

t.test('table aligns columns under their headers', async (t) => {
  const lines = table(
    [{ header: 'NAME' }, { header: 'COUNT', align: 'right' }, { header: 'NOTE' }],
    [['a', '1', 'short'], ['longer-name', '12345', ''], ['b']],
  );
  t.same(lines, [
    'NAME         COUNT  NOTE',
    'a                1  short',
    'longer-name  12345',
    'b',
  ], 'left and right alignment, two-space gaps, trailing spaces trimmed, missing cells empty');
  t.same(table([{ header: 'X' }], []), ['X'], 'headers alone when there are no rows');
  t.same(table([{ header: 'N', align: 'right' }], [['100']]), ['  N', '100'], 'a header narrower than its values');
});

t.test('value formats', async (t) => {
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1' }), '239.2.2.2:6000:eth1');
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 4 }), '239.2.2.2:6000:eth1:4');
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 0, source: '' }), '239.2.2.2:6000:eth1',
    'protobuf defaults (0, "") count as unset');
  t.equal(formatOutput({ group: '10.0.0.9', port: 1, interface: 'e', source: '10.0.0.1' }), '10.0.0.9:1:e from 10.0.0.1');
  t.equal(formatInput({ inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000 }), 'eth0 239.1.1.1:5000');
  t.equal(formatRate(99.84), '99.8');
  t.equal(formatRate(0), '0.0');
  t.equal(formatRate(Number.NaN), '-');
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(59_999), '59s');
  t.equal(formatDuration(249_000), '4m09s');
  t.equal(formatDuration(3_723_000), '1h02m');
  t.equal(formatDuration(277_200_000), '3d05h');
  t.equal(formatDuration(-1), '-');
  t.equal(orDash(undefined), '-');
  t.equal(orDash(''), '-');
  t.equal(orDash(0), '-');
  t.equal(orDash('x'), 'x');
  t.equal(present(7), true);
  t.equal(oneLine('a\nb\r\nc'), 'a\\nb\\nc');
});
