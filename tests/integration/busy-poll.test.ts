/**
 * `--busy-poll-us`: while traffic flows the loop polls without sleeping, and
 * once the traffic stops it goes back to sleeping after the set time. Proved
 * on real namespaces: at a steady 20 kpps with the setting every datagram
 * arrives intact and in order and the loop counts polling turns
 * (busy_poll_turns), without it none; a second after the stream ended the
 * loop turns only for its 100 ms stats timer. Through mcrd, the flag and the
 * config key reach the worker.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { StatsResult } from '../../proto/index.js';
import { relayCommand, runGen, sinkReport, startSink, steadyStream } from './harness.js';
import { mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

const COUNT = 10_000;

async function loopCounters(relay: Parameters<typeof relayCommand>[0]): Promise<Record<string, number>> {
  const reply = await relayCommand(relay, { op: 'stats' }) as { stats?: { loop?: Record<string, number> } };
  const loop = reply.stats?.loop;
  if (loop === undefined) throw new Error(`stats reply without loop counters: ${JSON.stringify(reply)}`);
  return loop;
}

async function relayAt20k(extra: string[]) {
  // Idle after the stream (the sink waited 3 s for more): how often does the
  // loop turn in a second? Per second as measured: on a loaded machine the
  // one-second sleep can last longer, and the stats timer turns meanwhile.
  const r = await steadyStream('bpoll', extra, { count: COUNT, stdin: true, afterStream: async (relay) => {
    const before = await loopCounters(relay);
    const start = performance.now();
    await sleep(1000);
    const after = await loopCounters(relay);
    const seconds = (performance.now() - start) / 1000;
    return Math.round(((after.loop_iterations ?? 0) - (before.loop_iterations ?? 0)) / seconds);
  } });
  return { ...r, idleTurns: r.after ?? 0 };
}

t.test('busy polling while traffic flows, sleeping once it stops', async (t) => {
  if (skipUnlessRoot(t)) return;
  const plain = await relayAt20k([]);
  const polling = await relayAt20k(['--busy-poll-us', '2000']);
  t.comment(`busy_poll_turns: ${plain.loop.busy_poll_turns} without, ${polling.loop.busy_poll_turns} with 2000 µs; ` +
    `loop turns in 1 s idle: ${plain.idleTurns} / ${polling.idleTurns}`);
  for (const [name, r] of [['without', plain], ['with 2000 µs', polling]] as const) {
    t.equal(r.got.received, COUNT, `${name}: every datagram delivered`);
    t.equal(r.got.corrupted + r.got.duplicated + r.got.reordered, 0, `${name}: intact, once, in order`);
    // The 100 ms stats timer and the two stats commands: about a dozen turns.
    t.ok(r.idleTurns <= 40, `${name}: asleep when idle (${r.idleTurns} turns a second)`);
  }
  t.equal(plain.loop.busy_poll_turns, 0, 'no polling unless asked for');
  // 20 kpps in batches about every 200 µs: the loop polls between them.
  t.ok((polling.loop.busy_poll_turns ?? 0) > COUNT / 10, 'polling turns counted between the datagrams');
});

t.test('mcrd passes --busy-poll-us and daemon.busyPollUs to its workers', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'bpollmcrd');
  const socket = join(dir, 'mcrd.sock');
  const rule = { name: 'p', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] };
  for (const [name, config, args] of [
    ['flag', { rules: [rule] }, ['--busy-poll-us', '2000']],
    ['config key', { daemon: { busyPollUs: 2000 }, rules: [rule] }, []],
  ] as const) {
    const file = join(dir, `bpoll-${name.replace(' ', '-')}.json5`);
    writeFileSync(file, JSON.stringify(config));
    const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1', ...args]);
    const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 20_000, size: 200 });
    t.equal((await sinkReport(sink)).received, 2000, `${name}: relayed`);
    const stats = await mcrctlJson<StatsResult>(socket, ['stats']);
    t.ok((stats.workers[0]?.loop?.busy_poll_turns ?? 0) > 0, `${name}: the worker polled (busy_poll_turns ${stats.workers[0]?.loop?.busy_poll_turns})`);
    t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, `${name}: mcrd stopped cleanly`);
  }
});
