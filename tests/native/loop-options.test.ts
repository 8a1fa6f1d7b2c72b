/**
 * Loop options that together would ask the kernel for more completion
 * queue entries than it allows (65536: the loop sizes its queue at 4 ×
 * ringDepth, or maxInflightSends + ringDepth) are refused when the Loop is
 * made, naming the flags to lower, instead of failing at start with
 * io_uring_setup's bare EINVAL. The largest accepted pair starts.
 */
import t from 'tap';
import { native } from '../../native/index.js';

const isRoot = process.getuid?.() === 0;

t.test('ringDepth and maxInflightSends stay within the kernel\'s completion queue', { skip: isRoot ? false : 'needs root (AF_PACKET socket)' }, async (t) => {
  const packetFd = native.openPacketSocket('lo');
  t.teardown(() => native.closeFd(packetFd));
  t.same(native.loopOptionRanges().ringDepth, { min: 64, max: 16384 }, 'ringDepth: 4 × 16384 is the kernel\'s 65536');
  t.same(native.loopOptionRanges().maxInflightSends, { min: 1, max: 65472 }, 'maxInflightSends: 65536 less the smallest ring');
  t.throws(() => new native.Loop({ packetFd, ringDepth: 32768 }), { code: 'ERR_MCR_INVALID_ARG', message: /ringDepth must be an integer 64\.\.16384/ });
  t.throws(() => new native.Loop({ packetFd, ringDepth: 16384, maxInflightSends: 65472 }),
    { code: 'ERR_MCR_INVALID_ARG', message: /maxInflightSends \+ ringDepth must be at most 65536.*lower --max-inflight or --ring-depth/ });
  const loop = new native.Loop({ packetFd, ringDepth: 16384, maxInflightSends: 65536 - 16384 });
  t.ok(loop.start(), 'the largest pair starts (a completion queue of 65536 entries)');
  await loop.stop();
});
