/**
 * Numbers that cross into the addon are checked, not cut to fit: a fan-out
 * group past 16 bits, a fractional or negative rule id, a fractional fd
 * are refused with ERR_MCR_INVALID_ARG naming the argument (before, 70000
 * became fan-out group 4464, a rule id of 1.5 removed rule 1, and -1 rule
 * 4294967295).
 */
import t from 'tap';
import { native } from '../../native/index.js';

const isRoot = process.getuid?.() === 0;

t.test('fan-out groups, rule ids and fds must be integers in range', { skip: isRoot ? false : 'needs root (AF_PACKET socket)' }, async (t) => {
  t.throws(() => native.openPacketSocket('lo', 70_000), { code: 'ERR_MCR_INVALID_ARG', message: /fanoutGroup must be an integer 0\.\.65535/ });
  t.throws(() => native.openPacketSocket('lo', 1.5), { code: 'ERR_MCR_INVALID_ARG' });
  const fd = native.openPacketSocket('lo', 0, { deferred: true });
  t.throws(() => native.activatePacketSocket(fd, 'lo', -1), { code: 'ERR_MCR_INVALID_ARG', message: /fanoutGroup/ });
  native.closeFd(fd);
  const unused = native.openPacketSocket('lo');
  t.throws(() => new native.Loop({ packetFd: unused, heartbeatFd: 3.7 }), { code: 'ERR_MCR_INVALID_ARG', message: /heartbeatFd/ });
  native.closeFd(unused);
  const loop = new native.Loop({ packetFd: native.openPacketSocket('lo') });
  loop.start();
  t.teardown(() => loop.stop());
  for (const id of [1.5, -1, Number.NaN]) {
    t.throws(() => loop.removeRule(id), { code: 'ERR_MCR_INVALID_ARG', message: /rule id must be an integer/ }, `rule id ${id}`);
  }
  const [a, b] = native.socketPair('seqpacket');
  t.teardown(() => { native.closeFd(a); native.closeFd(b); });
  t.throws(() => native.sendFds(a, ['x' as unknown as number], Buffer.from('x')), { code: 'ERR_MCR_INVALID_ARG', message: /fds\[0\]/ });
});
