/**
 * Relay.start owns the descriptors it is handed: when the start fails
 * before the loop exists (the input interface gone between the
 * supervisor's open and the worker's start: ENODEV), the packet socket and
 * the heartbeat block are closed all the same, as its doc says.
 */
import t from 'tap';
import { fstatSync, openSync } from 'node:fs';
import { pino } from 'pino';
import { Relay } from '../../worker/relay.js';

const open = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

t.test('a start refused for a missing interface closes the fds it was handed', async (t) => {
  // Stand-ins: the start fails before either is used as what it is.
  const packetFd = openSync('/dev/null', 'r');
  const heartbeatFd = openSync('/dev/null', 'r');
  const relay = new Relay('mcr-none0', pino({ level: 'silent' }));
  t.throws(() => relay.start(packetFd, heartbeatFd), { code: 'ENODEV' });
  t.notOk(open(packetFd), 'the packet socket\'s fd is closed');
  t.notOk(open(heartbeatFd), 'the heartbeat block\'s fd is closed');
});
