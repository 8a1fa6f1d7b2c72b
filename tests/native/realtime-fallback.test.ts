/**
 * The loop thread's SCHED_FIFO where the kernel refuses it although the
 * settings ask for it. A priority from "auto" (loopRtBestEffort, what
 * `--loop-rt-priority auto` resolves to under a real-time limit) falls back
 * to the normal policy with the short slice, and start() says why; a
 * priority given as a number fails the start with EPERM. The refusal comes
 * from a seccomp filter that fails sched_setscheduler as a unit's
 * RestrictRealtime=yes does (build/Release/deny_syscall sched_setscheduler):
 * this machine's root could otherwise always take it.
 * The same child without the filter gets SCHED_FIFO, so the filter is what
 * made the difference; mcrd's probe (probeThreadFifo) sees the same.
 */
import t from 'tap';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT, TOOL } from '../integration/harness.js';
import { hasSysNice } from '../integration/mcrd-harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');

// The loop thread's policy and priority from /proc (fields 41 and 40 of
// stat, after the command name), its slice from sched where the kernel
// shows one.
const CHILD = `
  import { native } from '${NATIVE}';
  import { readdirSync, readFileSync } from 'node:fs';
  const bestEffort = process.argv[1] === 'auto';
  const loopThread = () => {
    for (const tid of readdirSync('/proc/self/task')) {
      if (readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim() !== 'mcr-loop') continue;
      const stat = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { policy: Number(f[38]), rtPriority: Number(f[37]) };
    }
    return undefined;
  };
  let probe = 'ok';
  try { native.probeThreadFifo(10); } catch (e) { probe = e.code; }
  try {
    const loop = new native.Loop({ packetFd: native.openPacketSocket('lo'), loopRtPriority: 10, loopRtBestEffort: bestEffort });
    const info = loop.start();
    const thread = loopThread();
    await loop.stop();
    console.log(JSON.stringify({ started: true, probe, thread, loopRtPriority: info.loopRtPriority, loopRtRefused: info.loopRtRefused, loopSliceUs: info.loopSliceUs }));
  } catch (e) {
    console.log(JSON.stringify({ started: false, probe, code: e.code, message: e.message }));
  }
`;

interface Outcome {
  started: boolean;
  probe: string;
  thread?: { policy: number; rtPriority: number };
  loopRtPriority?: number;
  loopRtRefused?: { code: string; message: string };
  loopSliceUs?: number;
  code?: string;
  message?: string;
}

async function child(mode: 'auto' | 'given', filtered: boolean): Promise<Outcome> {
  const node = [process.execPath, '--input-type=module', '-e', CHILD, mode];
  const [cmd = '', ...args] = filtered ? [TOOL('deny_syscall'), 'sched_setscheduler', ...node] : node;
  const r = await execa(cmd, args, { reject: false, timeout: 20_000 });
  if (r.exitCode !== 0) throw new Error(`child failed (${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Outcome;
}

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const skip = process.getuid?.() !== 0 ? 'needs root (a packet socket)'
  : !hasSysNice() ? 'this root lacks CAP_SYS_NICE: SCHED_FIFO could not be taken even without the filter' : false;

t.test('refused SCHED_FIFO: the default falls back to the normal policy and says why; a number fails the start', { skip }, async (t) => {
  const auto = await child('auto', true);
  t.equal(auto.probe, 'EPERM', 'mcrd\'s probe thread is refused too');
  t.equal(auto.started, true, `auto: the loop starts (${auto.message ?? ''})`);
  t.same(auto.thread, { policy: SCHED_OTHER, rtPriority: 0 }, 'its thread under the normal policy');
  t.equal(auto.loopRtPriority, 0, 'start() says no priority is in force');
  t.match(auto.loopRtRefused, { code: 'EPERM', message: /SCHED_FIFO/ }, 'and why');
  t.equal(auto.loopSliceUs, 100, 'with the short slice instead (the filter lets sched_setattr pass)');

  const given = await child('given', true);
  t.equal(given.started, false, 'a priority given as a number: the start fails');
  t.equal(given.code, 'EPERM');
  t.match(given.message, /may not run SCHED_FIFO at priority 10: .*--loop-rt-priority auto/, 'with what to grant or set');

  const free = await child('auto', false);
  t.equal(free.probe, 'ok', 'without the filter the probe gets it');
  t.same(free.thread, { policy: SCHED_FIFO, rtPriority: 10 }, 'and so does the loop thread');
  t.equal(free.loopRtPriority, 10, 'start() says so');
  t.notOk('loopRtRefused' in free, 'no refusal');
  t.equal(free.loopSliceUs, 0, 'no slice asked for under SCHED_FIFO');
});
