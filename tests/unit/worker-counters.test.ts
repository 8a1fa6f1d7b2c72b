/**
 * An output's failed sends by errno (worker/counters.ts errorsByErrno), the
 * map `mcrctl stats --json` shows as errorsByErrno: each err_<errno> column
 * of the addon's counter layout becomes a real errno name, err_other
 * becomes `other`, zeros and the other counters stay out, and the map adds
 * up to the output's errors, also when the loop bumped `errors` but not
 * yet its errno's column as the counters were read.
 */
import t from 'tap';
import { constants } from 'node:os';
import { native } from '../../native/index.js';
import { CounterView, errorsByErrno } from '../../worker/counters.js';

t.test('every err_ column of the layout maps to an errno name the system knows', async (t) => {
  const columns = native.counterLayout().output.filter((n) => n.startsWith('err_'));
  t.ok(columns.includes('err_enodev') && columns.includes('err_eaddrnotavail'),
    'the errnos of a missing output interface or address have columns');
  const all = Object.fromEntries(columns.map((n) => [n, 1]));
  const byErrno = errorsByErrno(all);
  t.equal(Object.keys(byErrno).length, columns.length, 'one key per column');
  for (const key of Object.keys(byErrno)) {
    if (key === 'other') continue;
    t.ok(key in constants.errno, `${key} is an errno name`);
  }
  t.equal(byErrno.other, 1, 'err_other is `other`');
});

t.test('only errnos that occurred; packets, bytes, errors and last_errno are not errnos', async (t) => {
  const output = { packets: 5, bytes: 500, errors: 7, err_enodev: 4, err_enetunreach: 2, err_other: 1, err_enobufs: 0, last_errno: 22,
    destination: '239.1.1.1:5000', connected: true };
  const byErrno = errorsByErrno(output);
  t.strictSame(byErrno, { ENODEV: 4, ENETUNREACH: 2, other: 1 });
  t.equal(Object.values(byErrno).reduce((a, b) => a + b, 0), output.errors, 'they add up to errors');
  t.strictSame(errorsByErrno({ packets: 3, errors: 0 }), {}, 'no failure: an empty map');
});

t.test('an output read between the two bumps of a failed send: errors is what its columns add up to', async (t) => {
  const layout = native.counterLayout();
  const words = new BigUint64Array(layout.loop.length + layout.rule.length + layout.output.length);
  const at = (name: string): number => layout.loop.length + layout.rule.length + layout.output.indexOf(name);
  words[at('packets')] = 10n;
  words[at('errors')] = 8865n;  // bumped first
  words[at('err_eaddrnotavail')] = 8864n;  // its column not yet
  words[at('err_enobufs')] = 0n;
  const out = new CounterView(words.buffer, layout, 1).output(0);
  t.equal(out.errors, 8864, 'errors as the columns say');
  t.equal(Object.values(errorsByErrno(out)).reduce((a, b) => a + b, 0), out.errors, 'so errorsByErrno adds up to it');
  t.equal(out.packets, 10, 'the other counters as read');
});
