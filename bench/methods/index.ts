/**
 * The methods under test by name, so the runner can loop over them.
 */
import type { BenchLab } from '../bench-lab.js';
import type { MethodName } from '../config.js';
import { startKernel } from './kernel.js';
import { startMcr } from './mcr.js';
import { startSocat } from './socat.js';
import type { MethodStart, RunningMethod } from './types.js';

export type { McrTuning, MethodStart, RunningMethod } from './types.js';

export const START: Record<MethodName, (bl: BenchLab, o: MethodStart) => Promise<RunningMethod>> = {
  mcr: startMcr,
  kernel: startKernel,
  socat: startSocat,
};
