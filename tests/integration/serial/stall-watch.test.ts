/**
 * The stall watch of `bench:recovery --watch-stalls` (bench/stall-watch.ts)
 * on a core whose input backlog really overflows, made to: a flood from
 * core 0 whose receive work RPS steers to core 1, made slow there by an
 * nftables ingress chain of SLOW_RULES rules that match nothing (every
 * frame walks them all, in the backlog's processing), so the core takes
 * in less than arrives; and, for 300 ms in the middle, a busy SCHED_FIFO
 * task on core 1, which keeps ksoftirqd (a normal task) from that core
 * once the receive work is handed to it; the task starts once ksoftirqd is
 * seen doing that work. (The busy task alone does not
 * do it: the receive work runs on every interrupt's exit too, and kept up
 * with the flood in one run of two.) The watch
 * must keep every window in which the core dropped frames (together, all
 * the drops softnet_stat counted over the watch), and tell a core that was
 * busy with something else: ksoftirqd waited for the CPU in them.
 * (bench-recovery.test.ts runs the watch inside bench:recovery, where the
 * overrun overflows the backlog in some runs and not in others, depending
 * on how the host shares core 1; here the overflow is caused on purpose.)
 */
import t from 'tap';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { createRelayLab, nftNetdevUnavailableReason, skipUnlessRoot } from '../../../bench/lab/index.js';
import { readSoftnet } from '../../../bench/host-counters.js';
import { delta32, readSchedstat, softirqdPid, watchStalls } from '../../../bench/stall-watch.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { startGen } from '../harness.js';
import { hasSysNice } from '../mcrd-harness.js';

const CORE = 1;
const HOG_SECONDS = 0.3;
const SLOW_RULES = 1000;
const FLOOD_REACHED = 10_000;
const SOFTIRQD_SAMPLE_MS = 50;

t.test('the stall watch keeps the windows in which a starved core\'s backlog dropped frames, and says ksoftirqd waited', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (cpus().length < 2) return t.plan(0, 'needs two cores: the flood on core 0, the backlog on core 1');
  if (!hasSysNice()) return t.plan(0, 'this root lacks CAP_SYS_NICE: the busy task on core 1 cannot take SCHED_FIFO');
  const nft = await nftNetdevUnavailableReason();
  if (nft !== undefined) return t.plan(0, nft);
  const rl = await createRelayLab({ tag: 'stallw' });
  t.teardown(() => rl.lab.destroy());
  // The input's receive work on core 1, wherever the generator runs.
  await rl.lab.exec(rl.relay.ns, 'sh', ['-c', `echo ${(1 << CORE).toString(16)} > /sys/class/net/${rl.relay.input.ifname}/queues/rx-0/rps_cpus`]);
  // Gone with the namespace.
  const rules = Array.from({ length: SLOW_RULES }, () => '    meta mark 0x00000001 counter').join('\n');
  await rl.lab.exec(rl.relay.ns, 'nft', ['-f', '-'], { input:
    `table netdev mcr_stallw {\n  chain slow {\n    type filter hook ingress device "${rl.relay.input.ifname}" priority 0; policy accept;\n${rules}\n  }\n}\n` });

  const before = readSoftnet()[CORE];
  const watch = watchStalls(CORE, 20);
  t.teardown(() => { watch.stop(); });
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 3_000_000, rate: 2_000_000, size: 64 });
  t.teardown(() => gen.stop('SIGINT', 5_000).catch(() => undefined));
  await execa('taskset', ['-a', '-p', '-c', '0', String(gen.pid)]);
  // The flood's receive work is on core 1 (RPS as set above) before the busy task starts.
  t.ok(await pollUntil(async () => delta32(before?.processed ?? 0, readSoftnet()[CORE]?.processed ?? 0) >= FLOOD_REACHED, 10_000, 10),
    `the flood reaches core ${CORE}'s backlog (${FLOOD_REACHED} frames processed there)`);
  // Start the busy task only once ksoftirqd does the flood's receive work:
  // the task then takes the core from it mid-work, and it waits until the
  // task ends. (Receive work that runs on interrupt exit alone is not held
  // up by the task; ksoftirqd, woken late in the task's 300 ms or not at
  // all, waited 7 ms in one run.)
  const softirqd = softirqdPid(CORE);
  t.ok(softirqd !== undefined, `ksoftirqd/${CORE} found`);
  const busy = await pollUntil(async () => {
    const [ran] = readSchedstat(softirqd);
    await sleep(SOFTIRQD_SAMPLE_MS);
    return readSchedstat(softirqd)[0] - ran >= (SOFTIRQD_SAMPLE_MS * 1e6) / 2;
  }, 10_000, 0);
  t.ok(busy, `ksoftirqd/${CORE} does the flood's receive work (ran half of a ${SOFTIRQD_SAMPLE_MS} ms sample) before the busy task starts`);
  // The busy task: SCHED_FIFO 50 on core 1; `timeout`, on core 0, ends it.
  await execa('taskset', ['-c', '0', 'timeout', String(HOG_SECONDS), 'taskset', '-c', String(CORE), 'chrt', '-f', '50', 'sh', '-c', 'while :; do :; done'],
    { reject: false, timeout: 10_000 });
  await gen.stop('SIGINT', 5_000);
  const kept = watch.stop();
  const drops = delta32(before?.dropped ?? 0, readSoftnet()[CORE]?.dropped ?? 0);

  t.ok(drops > 0, `core ${CORE}'s backlog dropped frames while it was starved (${drops})`);
  t.equal(kept.reduce((sum, w) => sum + w.dropped, 0), drops, 'the windows kept hold every drop softnet_stat counted over the watch');
  t.ok(kept.length > 0 && kept.every((w) => w.dropped > 0 && w.windowMs > 0), `${kept.length} windows, each with drops`);
  // Woken while the busy task held the core, ksoftirqd waits until it ends.
  const waited = kept.reduce((sum, w) => sum + w.softirqdWaitMs, 0);
  t.ok(waited >= (HOG_SECONDS * 1000) / 2,
    `ksoftirqd waited for the CPU in them for most of the busy task's ${HOG_SECONDS * 1000} ms (${waited.toFixed(1)} ms; longest window ${Math.max(...kept.map((w) => w.softirqdWaitMs)).toFixed(1)} ms)`);
});
