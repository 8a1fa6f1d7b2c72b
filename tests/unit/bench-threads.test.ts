/**
 * bench/lab/threads.ts on processes that exist here: this test's own
 * threads are read (names, the normal policy), a process without a relay
 * loop and a process that is gone each give a line that says so, for a
 * bench cell's record, instead of throwing.
 */
import t from 'tap';
import { describeLoopThread, SCHED_OTHER, threadsOf } from '../../bench/lab/threads.js';

t.test('threads of this process', async (t) => {
  const mine = threadsOf(process.pid);
  t.ok(mine.length >= 1, `${mine.length} threads`);
  t.ok(mine.some((th) => th.tid === process.pid), 'the main thread is among them');
  t.ok(mine.every((th) => th.policy === SCHED_OTHER && th.rtPriority === 0), 'all under the normal policy');
  t.ok(mine.every((th) => th.name.length > 0), 'each has a name');
});

t.test('describeLoopThread without a loop to describe', async (t) => {
  t.equal(describeLoopThread(process.pid), `(loop) process ${process.pid} has no mcr-loop thread`);
  t.match(describeLoopThread(Number.NaN), /^\(loop\) not read: ENOENT/, 'a process that is not there: the reason, no throw');
});
