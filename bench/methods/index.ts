/**
 * The methods under test by name, so the runner can loop over them.
 */
import type { BenchLab } from '../bench-lab.js';
import type { MethodName } from '../config.js';
import { startCMmsg, startCRing } from './c-relay.js';
import { startGstreamer } from './gstreamer.js';
import { startKernel } from './kernel.js';
import { startMcr } from './mcr.js';
import { startNft } from './nft.js';
import { startSocat } from './socat.js';
import type { MethodStart, RunningMethod } from './types.js';

export type { McrTuning, MethodStart, RunningMethod } from './types.js';

export const START: Record<MethodName, (bl: BenchLab, o: MethodStart) => Promise<RunningMethod>> = {
  mcr: startMcr,
  kernel: startKernel,
  nft: startNft,
  'c-ring': startCRing,
  'c-mmsg': startCMmsg,
  socat: startSocat,
  gstreamer: startGstreamer,
};
