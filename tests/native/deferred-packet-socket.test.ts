/**
 * The deferred packet socket mcrd hands its workers: opened without bind or
 * fan-out group it receives nothing, even with a loop's ingress armed on it;
 * activatePacketSocket binds it and joins the group, and the ingress the
 * loop armed before (ring poll or multishot recv) then receives without
 * re-arming. Activation is refused with a code for a socket already active,
 * a bad fd, a missing interface or a group out of range. On loopback; the
 * UDP datagrams go to a port nobody listens on.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { native } from '../../native/index.js';
import { Relay } from '../../worker/relay.js';
import { pollUntil } from '../../bench/lab/time.js';
import { skipUnlessRoot } from '../../bench/lab/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(n: number): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (let i = 0; i < n; i++) await new Promise<void>((r) => s.send(Buffer.alloc(40), 47123, '127.0.0.1', () => r()));
  } finally {
    s.close();
  }
}

for (const ingress of ['ring', 'multishot'] as const) {
  t.test(`${ingress} ingress armed on a deferred socket receives once it is activated`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const relay = new Relay('lo', pino({ level: 'silent' }), { ingress }, { deferredFanoutGroup: 0x7a12 });
    relay.start(native.openPacketSocket('lo', 0, { deferred: true }));
    t.teardown(() => relay.stop());
    t.ok(relay.awaitingActivation, 'the relay knows its socket is not active');
    // The loop armed its ingress at start; give it time to, then send.
    await sleep(200);
    await send(20);
    await sleep(300);
    t.equal(relay.stats().loop.frames ?? 0, 0, 'nothing received while deferred');
    t.equal(relay.activate(), true, 'activated');
    t.equal(relay.awaitingActivation, false);
    await send(20);
    await pollUntil(async () => (relay.stats().loop.frames ?? 0) >= 20, 5000);
    const frames = relay.stats().loop.frames ?? 0;
    t.ok(frames >= 20, `the armed ingress receives after activation (${frames} frames)`);
    t.equal(relay.activate(), false, 'a second activate() is a no-op');
  });
}

// A member of a fan-out group is tapped through the group's hook, which
// PACKET_IGNORE_OUTGOING does not reach: activation sets the group's own
// flag (or, on a kernel before 6.9, a filter), so our own sends out of an
// input interface never come back as input. On lo each datagram passes the
// tap twice, going out and coming in: only the incoming copy may match. A
// rule counts them, as other processes' traffic on lo comes and goes.
t.test('a socket in a fan-out group does not receive the host\'s outgoing frames', async (t) => {
  if (skipUnlessRoot(t)) return;
  const relay = new Relay('lo', pino({ level: 'silent' }), { ingress: 'ring' }, { deferredFanoutGroup: 0x7a14 });
  relay.start(native.openPacketSocket('lo', 0, { deferred: true }));
  t.teardown(() => relay.stop());
  const id = await relay.addRule({ inputGroup: '127.0.0.1', inputPort: 47123, outputs: [{ group: '127.0.0.1', port: 47124, interface: 'lo' }] });
  t.equal(relay.activate(), true, 'activated in its group');
  await send(20);
  const matched = (): number => Number(relay.stats().rules.find((r) => r.id === id)?.packets ?? 0);
  await pollUntil(async () => matched() >= 20, 5000);
  // The outgoing copy of each datagram passes the tap before its incoming
  // one: by the 20th match every outgoing copy would have matched too; the
  // pause only lets a late one show.
  await sleep(300);
  t.equal(matched(), 20, `each datagram matched once (the incoming copy), not twice: ${matched()}`);
});

t.test('activation errors carry codes', async (t) => {
  if (skipUnlessRoot(t)) return;
  const fd = native.openPacketSocket('lo', 0, { deferred: true });
  t.teardown(() => native.closeFd(fd));
  t.throws(() => native.activatePacketSocket(fd, 'lo', 70_000), { code: 'ERR_MCR_INVALID_ARG' });
  t.throws(() => native.activatePacketSocket(fd, 'no-such-if0', 1), { code: 'ENODEV' });
  native.activatePacketSocket(fd, 'lo', 0x7a13);
  t.throws(() => native.activatePacketSocket(fd, 'lo', 0x7a13), { code: 'EINVAL' }, 'already active');
  t.throws(() => native.activatePacketSocket(-1, 'lo', 1), { code: 'EBADF' });
  t.throws(() => native.openPacketSocket('no-such-if0', 0, { deferred: true }), { code: 'ENODEV' });
  t.throws(() => native.openPacketSocket('lo', 0, { deferred: 'yes' } as unknown as { deferred: boolean }), { code: 'ERR_MCR_INVALID_ARG' });
});
