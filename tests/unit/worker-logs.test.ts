/**
 * Worker log files that stop taking lines (supervisor/worker-logs.ts): a
 * line whose append fails is still kept for `mcrctl logs` and given to
 * followers, nothing throws, the failure is reported once (again only if
 * its reason changes), and once the file takes lines again the recovery is
 * reported with how many lines it missed. A path that is a directory
 * stands in for a full disk: appendFileSync fails on it (EISDIR) as it
 * would with ENOSPC.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerLogs, type LogFileProblem } from '../../supervisor/worker-logs.js';

const line = (msg: string): string => JSON.stringify({ level: 30, time: 1, msg });

t.test('a log file that fails to append: relay logs go on, one report, then the recovery with what it missed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-worker-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const problems: LogFileProblem[] = [];
  const logs = new WorkerLogs(dir, (p) => problems.push(p));
  const followed: string[] = [];
  logs.follow((l) => followed.push(l.message));
  const file = join(dir, 'in0_0.log');

  logs.record('in0/0', {}, line('one'));
  t.match(readFileSync(file, 'utf8'), /"msg":"one"/, 'written while the file is fine');
  rmSync(file);
  mkdirSync(file);
  t.doesNotThrow(() => {
    logs.record('in0/0', {}, line('two'));
    logs.record('in0/0', {}, line('three'));
  }, 'a failing append does not throw');
  t.equal(problems.length, 1, 'reported once for the two lines');
  t.match(problems[0], { state: 'failing', file, code: 'EISDIR', message: /EISDIR/ }, 'with its code and the error');
  t.same(logs.recent('in0/0', 0, 10).map((l) => l.message), ['one', 'two', 'three'], 'every line still kept for mcrctl logs');
  t.same(followed, ['one', 'two', 'three'], 'and given to followers');

  rmSync(file, { recursive: true });
  logs.record('in0/0', {}, line('four'));
  t.same(problems[1], { state: 'recovered', file, missed: 2 }, 'writable again: reported with the lines it missed');
  t.match(readFileSync(file, 'utf8'), /"msg":"four"/, 'and the next line is in the file');
  t.equal(problems.length, 2);
});

t.test('a log directory removed under mcrd is made again at the next line', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'mcr-worker-logs-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'logs');
  const problems: LogFileProblem[] = [];
  const logs = new WorkerLogs(dir, (p) => problems.push(p));
  logs.record('in0/0', {}, line('one'));
  rmSync(dir, { recursive: true });
  logs.record('in0/0', {}, line('two'));
  t.match(readFileSync(join(dir, 'in0_0.log'), 'utf8'), /"msg":"two"/, 'the directory and the file are back, with the line');
  t.same(problems, [], 'nothing to report');
});

t.test('a worker line that is JSON but not an object (an uncaught `throw null` prints null) is kept as text, never read as fields', async (t) => {
  const logs = new WorkerLogs();
  for (const raw of ['null', '42', '"text"', '[1,2]', 'true']) {
    t.doesNotThrow(() => logs.record('in0/0', { pid: 1 }, raw), `${raw}: no exception in mcrd`);
  }
  t.same(logs.recent('in0/0', 0, 10).map((l) => [l.message, l.level]),
    [['null', 'info'], ['42', 'info'], ['"text"', 'info'], ['[1,2]', 'info'], ['true', 'info']], 'each kept as the message of an info line');
});
