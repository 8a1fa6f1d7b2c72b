/**
 * A tiny IPv6 UDP sender and receiver for the integration tests of mcrd's
 * IPv6 control plane (mcrd-ipv6.test.ts), run inside a lab namespace
 * with node's own dgram sockets, so those tests need neither mcrgen nor
 * mcrsink to speak IPv6.
 *
 *   node udp6-peer.js send GROUP PORT IFNAME COUNT RATE
 *     COUNT datagrams of 100 bytes to [GROUP]:PORT out of IFNAME, at RATE/s;
 *     prints {"sent":N}.
 *   node udp6-peer.js recv GROUP PORT IFNAME COUNT IDLE_MS MAX_MS
 *     a socket bound to [::]:PORT, joined to GROUP on IFNAME; prints
 *     {"event":"ready"} on stderr once joined, then {"received":N,"sources":
 *     {ADDRESS:N,...}} (datagrams per source address) on stdout
 *     after COUNT datagrams, IDLE_MS without one (after the first), or
 *     MAX_MS in all.
 */
import { createSocket } from 'node:dgram';

const [mode, group, portText, ifname, countText, a, b] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
if ((mode !== 'send' && mode !== 'recv') || group === undefined || ifname === undefined || !Number.isInteger(port) || !Number.isInteger(count)) {
  process.stderr.write('usage: udp6-peer send GROUP PORT IFNAME COUNT RATE | recv GROUP PORT IFNAME COUNT IDLE_MS MAX_MS\n');
  process.exit(2);
}

if (mode === 'send') {
  const rate = Number(a ?? 1000);
  const s = createSocket({ type: 'udp6' });
  s.bind(0, () => {
    s.setMulticastInterface(`::%${ifname}`);
    s.setMulticastTTL(8);
    const payload = Buffer.alloc(100, 0x5a);
    let sent = 0;
    const start = Date.now();
    const tick = (): void => {
      // Paced by the clock: what is due by now goes out, bounded by COUNT.
      const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
      const burst = (): void => {
        if (sent >= due) {
          if (sent >= count) { process.stdout.write(`${JSON.stringify({ sent })}\n`); s.close(); return; }
          setTimeout(tick, 2);
          return;
        }
        payload.writeUInt32BE(sent, 0);
        sent++;
        s.send(payload, port, group, (err) => { if (err !== null && err !== undefined) process.stderr.write(`${err.message}\n`); burst(); });
      };
      burst();
    };
    tick();
  });
} else {
  const idleMs = Number(a ?? 2000);
  const maxMs = Number(b ?? 20000);
  // As big as SO_RCVBUF goes without privileges (net.core.rmem_max, doubled by the kernel): the default
  // holds ~275 of these 100-byte datagrams, and a receiver descheduled on a loaded host lost the rest of a
  // 500-datagram burst (seen at load 14).
  const s = createSocket({ type: 'udp6', reuseAddr: true, recvBufferSize: 8 << 20 });
  let received = 0;
  const sources: Record<string, number> = {};
  let idle: NodeJS.Timeout | undefined;
  const done = (): void => {
    process.stdout.write(`${JSON.stringify({ received, sources })}\n`);
    s.close();
    process.exit(0);
  };
  setTimeout(done, maxMs).unref();
  s.on('message', (_msg, rinfo) => {
    received++;
    // A link-local sender arrives with its scope (fe80::1%dn1): the address alone is what the tests compare.
    const from = rinfo.address.split('%')[0] ?? rinfo.address;
    sources[from] = (sources[from] ?? 0) + 1;
    if (idle !== undefined) clearTimeout(idle);
    if (received >= count) done();
    else idle = setTimeout(done, idleMs);
  });
  s.bind(port, '::', () => {
    s.addMembership(group, `::%${ifname}`);
    process.stderr.write(`${JSON.stringify({ event: 'ready' })}\n`);
  });
}
