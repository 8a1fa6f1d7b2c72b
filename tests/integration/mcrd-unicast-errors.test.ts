/**
 * A unicast output whose receiver has no socket on the port: each datagram
 * draws an ICMP port unreachable, which IP_RECVERR keeps on the output's
 * socket, and nothing reads it. The socket's receive buffer is the
 * smallest the kernel allows (native/core/egress_socket.cc), so what it
 * holds stays a few KiB instead of growing to net.core.rmem_default
 * (~208 KiB) per output for the rule's life. The sink namespace answers
 * every datagram (icmp_ratelimit 0) so the queue fills in a second.
 * Needs root (network namespaces).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { runGen } from './harness.js';
import { mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';
import type { StatsResult } from '../../proto/index.js';

/** The bytes queued on the relay's UDP socket connected to `addr`:`port` (/proc/net/udp rx_queue), or undefined when there is none. */
async function queuedOn(run: (cmd: string, args: string[]) => Promise<string>, addr: string, port: number): Promise<number | undefined> {
  const hex = addr.split('.').map(Number).reverse().map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  const rem = `${hex}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  for (const line of (await run('cat', ['/proc/net/udp'])).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[2] === rem) return parseInt((f[4] ?? '0:0').split(':')[1] ?? '0', 16);
  }
  return undefined;
}

t.test('ICMP errors for a unicast output pin no more than the smallest receive buffer', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'uniicmp');
  const sink = rl.sinks[0];
  if (sink === undefined) throw new Error('the lab has no sink');
  await rl.lab.sysctl(sink.ns, 'net.ipv4.icmp_ratelimit', 0);
  await rl.lab.sysctl(sink.ns, 'net.ipv4.icmp_msgs_per_sec', 100_000);
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "${sink.addr}", port: 7777, interface: "out0" }] },
  ] }`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 3000, rate: 3000, size: 100 });
  let out: StatsResult['rules'][number]['outputs'][number] | undefined;
  // The counts settle within a stats tick or two after the generator ends.
  await pollUntil(async () => {
    out = (await mcrctlJson<StatsResult>(socket, ['stats'])).rules[0]?.outputs[0];
    return (out?.packets ?? 0) + (out?.errors ?? 0) >= 3000;
  }, 10_000, 100);
  t.ok((out?.packets ?? 0) + (out?.errors ?? 0) === 3000, `every datagram sent or counted (${out?.packets} sent, ${out?.errors} errors: ${JSON.stringify(out?.errorsByErrno)})`);
  const queued = await queuedOn(async (cmd, args) => (await rl.lab.exec(rl.relay.ns, cmd, args)).stdout, sink.addr, 7777);
  // The errors did come (else the bound below would hold for a socket that never saw one).
  t.ok((out?.errorsByErrno.ECONNREFUSED ?? 0) > 0, `the receiver's port unreachables reached the output (ECONNREFUSED ${out?.errorsByErrno.ECONNREFUSED})`);
  t.not(queued, undefined, 'the output socket is found in /proc/net/udp');
  t.ok((queued ?? 0) > 0, `and errors are queued on it (${queued} bytes)`);
  t.ok((queued ?? 0) <= 8192, `${queued} bytes held on it (at most the kernel's smallest buffer; before, up to ~208 KiB)`);
});
