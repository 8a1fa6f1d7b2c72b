/**
 * The processes a test starts run without tap's process-info hook
 * (tests/tap-child-env.ts, loaded by tap through package.json; the filter in tests/node-options-filter.ts): the
 * NODE_OPTIONS filter on its own, and a real child of this test process.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { withoutProcessInfo } from '../node-options-filter.js';

const PI = '"--import=file:///x/node_modules/@tapjs/processinfo/dist/esm/import.mjs"';

t.test('withoutProcessInfo drops tap\'s hook and keeps the rest', async (t) => {
  t.equal(withoutProcessInfo(undefined), undefined, 'none stays none');
  t.equal(withoutProcessInfo(PI), undefined, 'the hook alone: nothing left');
  t.equal(withoutProcessInfo(`--max-old-space-size=64 ${PI} "--title=a b"`), '--max-old-space-size=64 "--title=a b"', 'other options kept, quoted ones whole');
  t.equal(withoutProcessInfo('--loader=/x/node_modules/@tapjs/processinfo/dist/esm/loader.mjs --no-deprecation'), '--no-deprecation',
    'the older --loader form too');
  t.equal(withoutProcessInfo('--import=/x/other-hook.mjs'), '--import=/x/other-hook.mjs', 'someone else\'s hook stays');
});

t.test('a child of a test process runs without it', { skip: process.env.TAP === '1' ? false : 'only under tap, whose hook this removes' }, async (t) => {
  const seen = JSON.parse(execFileSync(process.execPath, ['-e',
    'console.log(JSON.stringify({ o: process.env.NODE_OPTIONS ?? "", k: Object.keys(process.env).filter((k) => k.startsWith("_TAPJS_PROCESSINFO_")) }))'],
  { encoding: 'utf8' })) as { o: string; k: string[] };
  t.notMatch(seen.o, /processinfo/, `the child's NODE_OPTIONS: "${seen.o}"`);
  t.same(seen.k, [], 'no _TAPJS_PROCESSINFO_ variables');
});
