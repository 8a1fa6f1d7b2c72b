/**
 * A worker that exits before it is ready never leaves only "did not become
 * ready": the start's error, mcrd's log line and `mcrctl workers` (reason,
 * lastExit, failedStarts) carry its exit status and its last words (its
 * stderr, where Node writes an uncaught error), and after
 * FAILED_STARTS_REPORTED failed starts in a row the slot says it keeps
 * failing, and why. One that then starts clears the streak. A worker's
 * fatal line reads "CODE: message", the code once even where the message
 * already starts with it (system errors do).
 */
import t from 'tap';
import { fleetLab } from './fleet-fixture.js';
import { FAILED_STARTS_REPORTED, fatalText } from '../../supervisor/fleet/slot.js';

const STDERR = [
  'node:internal/modules/esm/resolve:275',
  "Error: EACCES: permission denied, open '/srv/mcr/dist/worker/relay.js'",
  '    at Object.openSync (node:fs:573:18)',
  'Node.js v20.20.2',
];

t.test('exits before ready: code and stderr in the error, the log and the slot; a streak is reported', async (t) => {
  let failing = FAILED_STARTS_REPORTED;
  const lab = fleetLab(t, {
    backoff: { minMs: 10, maxMs: 40 },
    script: (body, w) => {
      if (body.kind !== 'ping' || w.sent.length > 1 || failing <= 0) return 'answer';
      failing--;
      for (const line of STDERR) w.onLine(line, 'stderr');
      return 'die';
    },
  });
  const errors: string[] = [];
  lab.fleet.reconcile().catch(() => undefined);
  await lab.until(() => lab.logged(/worker failed to start/).length >= 1, 2_000, 'the first failed start');
  errors.push(String(lab.logged(/worker failed to start/)[0]?.err));
  t.match(errors[0], /^worker in0\/0 exited with code 1 before it was ready: Error: EACCES: permission denied, open '\/srv\/mcr\/dist\/worker\/relay\.js'$/,
    'the start error names the exit status and the error line, not the stack');
  await lab.until(() => lab.logged(/^worker exited: restarting$/).length >= 1, 2_000, 'the exit log line');
  const exit = lab.logged(/^worker exited: restarting$/)[0];
  t.match(exit, { level: 40, worker: 'in0/0', code: 1, signal: null, beforeReady: true, stderr: STDERR }, 'the log line has the code and the last stderr lines');

  await lab.until(() => lab.logged(/keeps failing to start/).length === 1, 3_000, 'the streak reported');
  const streak = lab.logged(/keeps failing to start/)[0];
  t.match(streak, { level: 50, failedStarts: FAILED_STARTS_REPORTED }, 'an error once the streak reaches the threshold');
  t.match(streak?.msg, /keeps failing to start \(3 in a row\): exited with code 1: Error: EACCES/);
  await lab.until(() => lab.fleet.info()[0]?.state === 'running', 3_000, 'the start that works');
  const info = lab.fleet.info()[0];
  t.equal(info?.failedStarts, undefined, 'a worker that runs ends the streak');
  t.match(info?.lastExit, /^exited with code 1: Error: EACCES: permission denied/, 'lastExit keeps the last exit and its words');
  t.ok((info?.lastExitAtMs ?? 0) > 0, 'and when it happened');
  t.match(info?.reason, /^last exit .*: exited with code 1: Error: EACCES.*, restarted$/, 'the reason no longer says it keeps failing');
});

t.test('the streak shows in the slot while it lasts', async (t) => {
  const lab = fleetLab(t, {
    backoff: { minMs: 10, maxMs: 40 },
    script: (body, w) => {
      if (body.kind !== 'ping' || w.sent.length > 1) return 'answer';
      w.onLine(JSON.stringify({ level: 60, code: 'ERR_MCR_HANDOVER', msg: 'expected 2 or 3 fds, got 0' }), 'stdout');
      return 'die';
    },
  });
  lab.fleet.reconcile().catch(() => undefined);
  await lab.until(() => (lab.fleet.info()[0]?.failedStarts ?? 0) >= FAILED_STARTS_REPORTED, 3_000, 'the streak');
  t.match(lab.fleet.info()[0]?.reason, /keeps failing to start \(\d+ failed starts in a row, still retried with backoff\): exited with code 1: ERR_MCR_HANDOVER: expected 2 or 3 fds, got 0/,
    'the fatal line is the reason given');
});

t.test('a fatal line names its code once', async (t) => {
  const fatal = (code: string, msg: string): string => JSON.stringify({ level: 60, code, msg });
  t.equal(fatalText(fatal('ENOENT', 'ENOENT: getpwnam_r no user x: No such file or directory')), 'ENOENT: getpwnam_r no user x: No such file or directory',
    'a system error\'s message already carries the code');
  t.equal(fatalText(fatal('ERR_MCR_INVALID_ARG', '--cpu: expected CPU numbers, got x')), 'ERR_MCR_INVALID_ARG: --cpu: expected CPU numbers, got x');
  t.equal(fatalText(JSON.stringify({ level: 60, msg: 'no code' })), 'ERR_MCR_WORKER: no code');
  t.equal(fatalText('not json'), 'not json');
});
