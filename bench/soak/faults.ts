/**
 * The fault of each kind (issue 12's list, plus 'none' for calibration
 * runs), by name. Each lives in the file of its family.
 */
import type { PlannedKind } from './schedule.js';
import { outcome, type FaultRunner } from './fault-context.js';
import { workerKill, workerStop } from './faults-worker.js';
import { inputDown, outputAddress, outputDown, outputMtu } from './faults-interface.js';
import { configReload, controlBurst, ruleChurn } from './faults-control.js';

export const FAULTS: Record<PlannedKind, FaultRunner> = {
  'worker-kill': workerKill,
  'worker-stop': workerStop,
  'output-down': outputDown,
  'output-mtu': outputMtu,
  'output-address': outputAddress,
  'input-down': inputDown,
  'rule-churn': ruleChurn,
  'config-reload': configReload,
  'control-burst': controlBurst,
  none: async () => outcome('none', 'no fault'),
};
