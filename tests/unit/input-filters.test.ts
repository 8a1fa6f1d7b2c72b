/**
 * InputFilters' bookkeeping against a scripted `tc`: which commands run for
 * each change of rules and interfaces, that a clsact qdisc is removed only if
 * mcrd added it (or found it holding only a filter an earlier mcrd left) and
 * nothing else uses it, and that tc failures are logged
 * with a code and retried on the next change instead of being thrown, and
 * that nothing is installed after close(). The
 * real tc and kernel are exercised by tests/integration/mcrd-consume.test.ts.
 */
import t from 'tap';
import type { Logger } from 'pino';
import { CONSUME_PREF, consumeMatchesByInterface, InputFilters, type TcResult } from '../../supervisor/net/input-filters.js';

interface Logged { level: string; fields: Record<string, unknown>; msg: string }

function fakeLogger(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg = '') => { lines.push({ level, fields, msg }); };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

/** A tc that records its arguments; `answer` decides each result. */
function fakeTc(answer: (args: string[]) => Partial<TcResult> = () => ({})) {
  const calls: string[] = [];
  const run = async (args: string[]): Promise<TcResult> => {
    calls.push(args.join(' '));
    return { ok: true, stdout: '', stderr: '', ...answer(args) };
  };
  return { run, calls };
}

const rule = (iface: string, port: number, source?: string) =>
  ({ inputInterface: iface, inputGroup: '239.1.1.1', inputPort: port, ...(source !== undefined ? { source } : {}) });
/** Interfaces by name with their indexes, as the watcher sees them: `set` creates (a new index) or renames, `drop` deletes. */
function fakeLinks(names: string[] = []) {
  const byName = new Map<string, number>();
  let next = 10;
  const set = (name: string, ifindex = next++): void => {
    for (const [n, i] of byName) if (i === ifindex) byName.delete(n);
    byName.set(name, ifindex);
  };
  for (const n of names) set(n);
  return {
    index: (name: string): number | undefined => byName.get(name),
    nameOf: (ifindex: number): string | undefined => [...byName].find(([, i]) => i === ifindex)?.[0],
    set, drop: (name: string) => byName.delete(name),
  };
}
/** Every interface exists, each under a fixed index. */
const all = { index: (name: string): number => 100 + [...name].reduce((a, c) => a + c.charCodeAt(0), 0), nameOf: (_i: number): string | undefined => undefined };
all.nameOf = (i: number): string | undefined => ['in0', 'in1', 'in2', 'in3'].find((n) => all.index(n) === i);

t.test('installs, replaces on change, leaves alone when unchanged, removes when unwanted', async (t) => {
  const tc = fakeTc();
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  await f.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  t.equal(tc.calls[0], 'qdisc show dev in0');
  t.equal(tc.calls[1], 'qdisc replace dev in0 clsact');
  t.match(tc.calls[2], new RegExp(`^filter replace dev in0 ingress pref ${CONSUME_PREF} handle 1 bpf da bytecode \\d+,40 0 0 12,`));
  t.equal(tc.calls.length, 3);
  t.ok(lines.some((l) => l.level === 'info' && /consume filter installed/.test(l.msg)));

  tc.calls.length = 0;
  await f.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  t.same(tc.calls, [], 'same rules: no tc call');

  await f.apply(consumeMatchesByInterface([rule('in0', 5000), rule('in0', 5001)]), all);
  t.equal(tc.calls.length, 1, 'a new rule: only the filter is replaced');
  t.match(tc.calls[0], /^filter replace dev in0 /);

  tc.calls.length = 0;
  await f.apply(new Map(), all);
  t.equal(tc.calls[0], `filter del dev in0 ingress pref ${CONSUME_PREF}`);
  t.equal(tc.calls[1], 'filter show dev in0 ingress');
  t.equal(tc.calls[2], 'filter show dev in0 egress');
  t.equal(tc.calls[3], 'qdisc del dev in0 clsact', 'the qdisc mcrd added goes too, being empty');
});

t.test('after close(), apply() installs nothing: a request still running while mcrd stops leaves no filter behind', async (t) => {
  const tc = fakeTc();
  const f = new InputFilters(fakeLogger().logger, tc.run);
  const matches = consumeMatchesByInterface([rule('in0', 5000)]);
  await f.apply(matches, all);
  await f.close();
  t.ok(tc.calls.includes(`filter del dev in0 ingress pref ${CONSUME_PREF}`), 'close removed the filter');
  tc.calls.length = 0;
  await f.apply(matches, all);
  await f.apply(consumeMatchesByInterface([rule('in0', 5000), rule('in1', 5001)]), all);
  t.same(tc.calls, [], 'no tc call after close');
});

t.test('a clsact qdisc that was there before, or still has filters, stays', async (t) => {
  const tc = fakeTc((args) => (args.join(' ') === 'qdisc show dev in0' ? { stdout: 'qdisc clsact ffff: parent ffff:fff1\n' } : {}));
  const f = new InputFilters(fakeLogger().logger, tc.run);
  await f.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  await f.close();
  t.notOk(tc.calls.some((c) => c.startsWith('qdisc del')), 'pre-existing qdisc kept');

  const busy = fakeTc((args) => (args.join(' ') === 'filter show dev in1 egress' ? { stdout: 'filter protocol all pref 1 bpf ...\n' } : {}));
  const g = new InputFilters(fakeLogger().logger, busy.run);
  await g.apply(consumeMatchesByInterface([rule('in1', 5000)]), all);
  await g.close();
  t.ok(busy.calls.includes(`filter del dev in1 ingress pref ${CONSUME_PREF}`));
  t.notOk(busy.calls.some((c) => c.startsWith('qdisc del')), 'qdisc with someone else\'s filter kept');
});

t.test('interfaces that do not exist get nothing; one that vanished is forgotten and reinstalled on return', async (t) => {
  const tc = fakeTc();
  const f = new InputFilters(fakeLogger().logger, tc.run);
  const links = fakeLinks(['in0']);
  const rules = consumeMatchesByInterface([rule('in0', 5000), rule('gone0', 5000)]);
  await f.apply(rules, links);
  t.notOk(tc.calls.some((c) => c.includes('gone0')), 'no tc for a missing interface');
  links.drop('in0');
  tc.calls.length = 0;
  await f.apply(rules, links);
  t.same(tc.calls, [], 'a vanished interface took its filter with it: nothing to delete');
  links.set('in0');
  await f.apply(rules, links);
  t.ok(tc.calls.some((c) => c.startsWith('filter replace dev in0 ')), 'installed again when it returns');
});

t.test('a filter belongs to its device: re-created under the same name between two applies, the new one gets a filter', async (t) => {
  const tc = fakeTc();
  const f = new InputFilters(fakeLogger().logger, tc.run);
  const links = fakeLinks(['in0']);
  const rules = consumeMatchesByInterface([rule('in0', 5000)]);
  await f.apply(rules, links);
  links.drop('in0');
  links.set('in0');
  tc.calls.length = 0;
  await f.apply(rules, links);
  t.ok(tc.calls.some((c) => c.startsWith('filter replace dev in0 ')), 'installed on the new in0 (before: the name was the same, so nothing was done and the new device had no filter)');
});

t.test('a renamed interface keeps mcrd\'s filter until mcrd removes it there; its rules\' name gets one when it returns', async (t) => {
  const tc = fakeTc();
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  const links = fakeLinks(['in0']);
  const rules = consumeMatchesByInterface([rule('in0', 5000)]);
  await f.apply(rules, links);
  const idx = links.index('in0') as number;
  links.set('old0', idx);
  tc.calls.length = 0;
  await f.apply(rules, links);
  t.ok(tc.calls.some((c) => c === `filter del dev old0 ingress pref ${CONSUME_PREF}`), 'removed from the renamed device (before: forgotten there, and left behind when mcrd stopped)');
  t.ok(lines.some((l) => l.msg.startsWith('consume filter went with its renamed interface') && l.fields.was === 'in0'), 'logged');
  links.set('in0');
  tc.calls.length = 0;
  await f.apply(rules, links);
  t.ok(tc.calls.some((c) => c.startsWith('filter replace dev in0 ')), 'a new in0 gets its own');
});

t.test('a rename while the filter is being installed: the filter is followed to the new name and removed there', async (t) => {
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  const run = async (args: string[]): Promise<TcResult> => {
    calls.push(args.join(' '));
    if (first && args[0] === 'filter' && args[1] === 'replace') {
      first = false;
      await gate;
    }
    return { ok: true, stdout: '', stderr: '' };
  };
  const f = new InputFilters(fakeLogger().logger, run);
  const links = fakeLinks(['in0']);
  const rules = consumeMatchesByInterface([rule('in0', 5000)]);
  const installing = f.apply(rules, links);
  await new Promise((r) => setImmediate(r));
  links.set('x0', links.index('in0'));
  const after = f.apply(rules, links);
  release?.();
  await installing;
  await after;
  t.ok(calls.includes(`filter del dev x0 ingress pref ${CONSUME_PREF}`), 'removed from x0, where the device it was installed on is now');
  t.notOk(calls.includes(`filter del dev in0 ingress pref ${CONSUME_PREF}`), 'not looked for under the old name');
});

t.test('tc failures are logged with a code and retried on the next change', async (t) => {
  let missing = true;
  const tc = fakeTc(() => (missing ? { ok: false, code: 'ENOENT', stderr: 'spawn tc ENOENT' } : {}));
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  await f.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  const err = lines.find((l) => l.level === 'error');
  t.equal(err?.fields.code, 'ENOENT');
  t.match(err?.msg, /host keeps receiving.*install iproute2/);
  await f.apply(consumeMatchesByInterface([rule('in0', 5001)]), all);
  t.equal(lines.filter((l) => l.level === 'error').length, 1, 'a missing tc is an error once (the default "auto" tries at every change), then debug');
  t.ok(lines.some((l) => l.level === 'debug' && l.fields.code === 'ENOENT'));
  t.equal(f.problem('in0'), 'installing the consume filter on in0 failed (ENOENT)', 'mcrctl list is told why');
  missing = false;
  tc.calls.length = 0;
  await f.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  t.ok(tc.calls.some((c) => c.startsWith('filter replace dev in0 ')), 'retried');
  t.equal(f.problem('in0'), undefined, 'and the problem is gone');

  const refused = fakeTc((args) => (args[0] === 'filter' && args[1] === 'replace' ? { ok: false, code: 'ERR_MCR_TC', stderr: 'Error: TC classifier not found.' } : {}));
  const r = fakeLogger();
  const g = new InputFilters(r.logger, refused.run);
  await g.apply(consumeMatchesByInterface([rule('in0', 5000)]), all);
  t.ok(refused.calls.includes(`filter del dev in0 ingress pref ${CONSUME_PREF}`), 'nothing of ours is left: the filter slot is cleared');
  t.equal(refused.calls.at(-1), 'qdisc del dev in0 clsact', 'and the qdisc added for it removed');
  t.match(r.lines.find((l) => l.level === 'error')?.msg ?? '', /cls_bpf/);
});

t.test('too many matches for one program: refused with a code, nothing installed', async (t) => {
  const tc = fakeTc();
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  const many = Array.from({ length: 900 }, (_, i) => ({ inputInterface: 'in0', inputGroup: `239.9.${i >> 8}.${i & 255}`, inputPort: 5000 }));
  await f.apply(consumeMatchesByInterface(many), all);
  t.same(tc.calls, []);
  t.equal(lines.find((l) => l.level === 'error')?.fields.code, 'ERR_MCR_CONSUME_TOO_MANY');
  t.equal(f.problem('in0'), 'too many rule matches on in0 for one consume filter', 'mcrctl list is told why');
  // Another rule change while still over the limit: no second report.
  await f.apply(consumeMatchesByInterface(many.slice(1)), all);
  t.equal(lines.filter((l) => l.level === 'error').length, 1, 'reported once while the interface stays over the limit');
  // Back under it: the filter goes in, and the log says so.
  await f.apply(consumeMatchesByInterface(many.slice(0, 10)), all);
  t.ok(tc.calls.some((c) => c.includes('filter replace dev in0')), 'the filter is installed once the matches fit');
  t.ok(lines.some((l) => l.level === 'info' && /fit one consume filter again/.test(String(l.msg))), 'and the log says the limit no longer applies');
  // Over again later: reported again.
  await f.apply(consumeMatchesByInterface(many), all);
  t.equal(lines.filter((l) => l.level === 'error').length, 2, 'going over the limit again is reported again');
});

t.test('removeStale deletes only a bpf direct-action filter at our preference, and says so', async (t) => {
  const shown: Record<string, string> = {
    in0: `filter protocol all pref ${CONSUME_PREF} bpf chain 0 \nfilter protocol all pref ${CONSUME_PREF} bpf chain 0 handle 0x1 direct-action not_in_hw bytecode '1,6 0 0 2'\n`,
    in1: `filter protocol ip pref ${CONSUME_PREF} u32 chain 0\n`,
    eth9: '',
  };
  const tc = fakeTc((args) => (args[1] === 'show' ? { stdout: shown[args[3]!] ?? '' } : {}));
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  await f.removeStale(['in0', 'in1', 'eth9']);
  t.same(tc.calls.filter((c) => c.includes(' del ')), [`filter del dev in0 ingress pref ${CONSUME_PREF}`], 'someone else\'s u32 filter and empty interfaces are left alone');
  t.equal(lines.filter((l) => l.level === 'warn').length, 1, 'the removal is reported');
  t.equal(lines.filter((l) => l.level === 'error').length, 0);
});

/**
 * A tc that keeps state: per interface, whether there is a clsact qdisc and
 * which filters (by preference) it holds, printed the way tc prints them.
 */
function statefulTc(initial: Record<string, { ingress?: number[]; egress?: number[] }>) {
  const devs = new Map(Object.entries(initial).map(([dev, f]) => [dev, { ingress: new Set(f.ingress ?? []), egress: new Set(f.egress ?? []) }]));
  const print = (prefs: Iterable<number>): string => [...prefs].map((p) =>
    `filter protocol all pref ${p} bpf chain 0 \nfilter protocol all pref ${p} bpf chain 0 handle 0x1 direct-action not_in_hw bytecode '1,6 0 0 0'\n`).join('');
  const fake = fakeTc((args) => {
    const [object, verb, , dev, dir, , pref] = args;
    const d = devs.get(dev!);
    if (object === 'qdisc') {
      if (verb === 'show') return { stdout: d ? 'qdisc clsact ffff: parent ffff:fff1 \n' : '' };
      if (verb === 'replace') { if (!d) devs.set(dev!, { ingress: new Set(), egress: new Set() }); return {}; }
      if (verb === 'del') { devs.delete(dev!); return {}; }
    }
    const side = d?.[dir as 'ingress' | 'egress'];
    if (verb === 'show') return { stdout: side ? print([...side].filter((p) => pref === undefined || p === Number(pref))) : '' };
    if (!side) return { ok: false, code: 'ERR_MCR_TC', stderr: 'Error: Cannot find specified qdisc on specified device.' };
    if (verb === 'replace') side.add(Number(pref));
    if (verb === 'del') side.delete(Number(pref));
    return {};
  });
  return { ...fake, has: (dev: string) => devs.has(dev), prefs: (dev: string) => [...(devs.get(dev)?.ingress ?? [])] };
}

t.test('removeStale also removes the clsact qdisc that held only the stale filter, never one holding others', async (t) => {
  const tc = statefulTc({ in0: { ingress: [CONSUME_PREF] }, in1: { ingress: [100, CONSUME_PREF] }, in2: { ingress: [CONSUME_PREF], egress: [7] } });
  const { logger, lines } = fakeLogger();
  const f = new InputFilters(logger, tc.run);
  await f.removeStale(['in0', 'in1', 'in2']);
  t.notOk(tc.has('in0'), 'in0: the stale filter and its clsact are gone');
  t.ok(lines.some((l) => l.level === 'info' && l.fields.interface === 'in0' && /clsact qdisc that held only the consume filter/.test(l.msg)), 'and mcrd says so');
  t.same([tc.has('in1'), tc.prefs('in1')], [true, [100]], 'in1: someone else\'s ingress filter keeps the qdisc');
  t.same([tc.has('in2'), tc.prefs('in2')], [true, []], 'in2: someone else\'s egress filter keeps the qdisc');
  t.equal(lines.filter((l) => l.level === 'error').length, 0);
});

t.test('a clsact found holding only an earlier mcrd\'s filter is removed when the filter goes; with others it stays', async (t) => {
  const tc = statefulTc({ in0: { ingress: [CONSUME_PREF] }, in1: { ingress: [100, CONSUME_PREF] } });
  const f = new InputFilters(fakeLogger().logger, tc.run);
  await f.apply(consumeMatchesByInterface([rule('in0', 5000), rule('in1', 5000)]), all);
  t.same([tc.prefs('in0'), tc.prefs('in1')], [[CONSUME_PREF], [100, CONSUME_PREF]], 'installed over the stale filters');
  await f.close();
  t.notOk(tc.has('in0'), 'in0: the inherited clsact is removed with the filter');
  t.same([tc.has('in1'), tc.prefs('in1')], [true, [100]], 'in1: the clsact with someone else\'s filter stays, and so does that filter');
});
