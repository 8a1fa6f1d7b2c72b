/**
 * supervisor/heap-flags.ts: when mcrd execs node again to fix its young
 * generation, and with which argv (node's own flags and mcrd's arguments
 * kept, in order); never when the flag is already there (no exec loop) or
 * when MCRD_SEMI_SPACE_MB turns it off. heap-flags.ts is the pure part;
 * the exec itself is heap-reexec.ts, which this test does not import.
 */
import t from 'tap';
import { DEFAULT_SEMI_SPACE_MB, heapReexecArgv } from '../../supervisor/heap-flags.js';

const base = { execPath: '/usr/bin/node', execArgv: ['--enable-source-maps'], argv: ['/usr/bin/node', '/x/mcrd.js', '--config', 'c.json5'], env: {} };

t.test('adds the flag once, before node\'s other flags and the script', async (t) => {
  t.same(heapReexecArgv(base), ['/usr/bin/node', `--max-semi-space-size=${DEFAULT_SEMI_SPACE_MB}`, '--enable-source-maps', '/x/mcrd.js', '--config', 'c.json5']);
  t.same(heapReexecArgv({ ...base, env: { MCRD_SEMI_SPACE_MB: '4' } })?.[1], '--max-semi-space-size=4');
});

t.test('no exec when the flag is there, or turned off', async (t) => {
  t.equal(heapReexecArgv({ ...base, execArgv: ['--max-semi-space-size=1'] }), undefined, 'already given: no loop');
  t.equal(heapReexecArgv({ ...base, execArgv: ['--max-semi-space-size', '8'] }), undefined, 'given as two words');
  t.equal(heapReexecArgv({ ...base, env: { MCRD_SEMI_SPACE_MB: '0' } }), undefined, 'MCRD_SEMI_SPACE_MB=0');
  t.equal(heapReexecArgv({ ...base, env: { MCRD_SEMI_SPACE_MB: 'x' } }), undefined, 'a setting that is no number');
});
