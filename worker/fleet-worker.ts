#!/usr/bin/env node
/**
 * The worker process mcrd forks, one per (input interface × core). Start-up
 * order matters: arm the parent-death signal first (no orphans, ever),
 * receive the AF_PACKET socket, the command-stream socket and the heartbeat
 * block mcrd's watchdog reads over fd 3 (a SOCK_SEQPACKET pair, SCM_RIGHTS), pin to the core (with --aux-cpus
 * only the loop thread: the process's other threads go to those CPUs, mcrd's own), start the loop, then
 * drop to the configured user with no capabilities, and only then serve
 * commands. Logs are pino JSON on stdout, which mcrd captures and tags.
 *
 *   fleet-worker.js --worker-id ID --interface IF [--cpu N [--aux-cpus LIST]] [--user U] [--log-level L]
 *                   [--coalesce-us US] [--busy-poll-us US] [--loop-rt-priority auto|N] [--rule-slots N --output-slots N]
 *                   [--fanout-group N]
 *
 * With --fanout-group the packet socket mcrd hands over is deferred (unbound,
 * receiving nothing): the worker binds it and joins group N (0: none) after
 * its first rule sync, before answering it (command-handler.ts), so the
 * fan-out hash gives it flows only once it forwards them.
 *
 * The slot counts come from mcrd's rule limits (common/rule-limits.ts):
 * enough counter slots for an interface at its limits during a full sync,
 * and they also bound the frames of the command stream.
 */
import { Socket } from 'node:net';
import { closeSync } from 'node:fs';
import { pino, type LevelWithSilent } from 'pino';
import { native } from '../native/index.js';
import { Relay } from './relay.js';
import { loopRealtimeOptions, loopSettingsFromArgs, type LoopSettings } from '../common/loop-settings.js';
import { CommandHandler } from './command-handler.js';
import { FrameDecoder, decodeCommand, encodeFrame, encodeReply, type Command, type WireError } from '../proto/index.js';
import { workerFrameBytes } from '../common/rule-limits.js';
import { START_REFUSED_CODES, WORKER_EXIT_START_REFUSED } from '../common/worker-exit.js';

const HANDOVER_FD = 3;
const HANDOVER_TIMEOUT_MS = 10_000;
const SIGKILL = 9;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A CPU number of a flag mcrd passes (`--cpu`, `--aux-cpus`); anything else is fatal. */
function cpuNumber(flag: string, text: string): number {
  if (!/^\d{1,4}$/.test(text)) fatal('ERR_MCR_INVALID_ARG', `--${flag}: expected CPU numbers, got ${text}`);
  return Number(text);
}

function cpuArg(flag: string): number | undefined {
  const text = arg(flag);
  return text === undefined ? undefined : cpuNumber(flag, text);
}

function fatal(code: string, message: string, status = 1): never {
  process.stdout.write(JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, code, msg: message }) + '\n');
  process.exit(status);
}

/**
 * A start step the host refused: the exit says whether a restart can help
 * (START_REFUSED_CODES: a limit or a permission must change first, so mcrd
 * does not restart it in a loop) or not.
 */
function refusedAtStart(what: string, err: unknown): never {
  const e = err as Error & { code?: string };
  const code = e.code ?? 'ERR_MCR_WORKER';
  fatal(code, `${what}: ${e.message}`, START_REFUSED_CODES.has(code) ? WORKER_EXIT_START_REFUSED : 1);
}

/** Runs a start step, ending the worker as refusedAtStart says when it throws. */
function startStep<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    return refusedAtStart(what, err);
  }
}

async function main(): Promise<void> {
  const parent = process.ppid;
  try {
    native.dieWithParent(SIGKILL, parent);
  } catch (err) {
    fatal((err as { code?: string }).code ?? 'ESRCH', 'supervisor gone before the worker started');
  }
  const workerId = arg('worker-id') ?? '?';
  const iface = arg('interface');
  if (iface === undefined) fatal('ERR_MCR_INVALID_ARG', '--interface is required');
  const logger = pino({ level: (arg('log-level') ?? 'info') as LevelWithSilent,
    base: { pid: process.pid, worker: workerId, interface: iface } }, pino.destination({ fd: 1, sync: true }));

  // The packet socket, the command stream and, from an mcrd with a
  // watchdog, the heartbeat block (native createHeartbeat) the loop beats in.
  const { fds } = native.recvFds(HANDOVER_FD, HANDOVER_TIMEOUT_MS, 3);
  closeSync(HANDOVER_FD);
  const [packetFd, commandFd, heartbeatFd] = fds;
  if (packetFd === undefined || commandFd === undefined) fatal('ERR_MCR_HANDOVER', `expected 2 or 3 fds, got ${fds.length}`);

  // The loop thread on its core; with --aux-cpus (mcrd's own CPUs, left
  // over by --worker-cpus) the Node thread and its helpers (log pumping,
  // counters, GC) go there, so they never delay a datagram on the loop's
  // core (docs/mcrd.md, "CPUs").
  const cpu = cpuArg('cpu');
  const auxCpus = arg('aux-cpus')?.split(',').map((text) => cpuNumber('aux-cpus', text));
  if (cpu !== undefined) native.pinToCpus(auxCpus ?? [cpu]);
  const loopCpu = cpu !== undefined && auxCpus !== undefined ? cpu : undefined;
  // No group joins here: mcrd holds the memberships (the worker keeps no socket for them).
  // mcrd holds the group memberships and re-syncs the rules when an output
  // interface appears or changes address.
  let loop: LoopSettings;
  try {
    loop = loopSettingsFromArgs(arg);
  } catch (err) {
    fatal('ERR_MCR_INVALID_ARG', `bad loop setting: ${(err as Error).message}`);
  }
  const slotArg = (name: string, fallback: number): number => {
    const text = arg(name);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < 1) fatal('ERR_MCR_INVALID_ARG', `--${name}: expected a positive integer, got ${text}`);
    return Number(text);
  };
  // The loop's own defaults when mcrd gives none.
  const slots = { ruleSlots: slotArg('rule-slots', 1024), outputSlots: slotArg('output-slots', 4096) };
  const groupText = arg('fanout-group');
  if (groupText !== undefined && (!/^\d+$/.test(groupText) || Number(groupText) > 0xffff)) {
    fatal('ERR_MCR_INVALID_ARG', `--fanout-group: expected an integer from 0 to 65535, got ${groupText}`);
  }
  // "auto" (mcrd passes nothing for it): SCHED_FIFO where the RLIMIT_RTPRIO
  // inherited from mcrd grants it, which stays after the switch to our user.
  const realtime = loopRealtimeOptions(loop);
  const user = arg('user');
  const ids = user !== undefined && process.getuid?.() === 0 ? startStep(`user ${user}`, () => native.lookupUser(user)) : undefined;
  // A real-time loop steps down to the normal policy while saturated, and
  // only where it can come back (native/core/realtime_guard.h): after the
  // drop to another user that takes RLIMIT_RTPRIO, raised here while
  // privileged (it needs CAP_SYS_RESOURCE unless the limit is there), and
  // before the loop starts, so a loop that steps down in its first moments,
  // while this process is still root, finds the limit there after the drop
  // too. (Under "auto" the limit is there already: the call changes
  // nothing.) Where the raise fails, the loop must not count root's
  // CAP_SYS_NICE, which the drop takes away, as its way back.
  if (ids !== undefined && ids.uid !== 0 && realtime.loopRtPriority > 0) {
    native.expectPrivilegeDrop();
    try {
      native.allowRealtimePriority(realtime.loopRtPriority);
    } catch (err) {
      const e = err as Error & { code?: string };
      logger.warn({ code: e.code ?? 'ERR_MCR_RLIMIT', err: e.message },
        'cannot raise RLIMIT_RTPRIO: a saturated real-time loop will stay under SCHED_FIFO, since it could not come back after stepping down (give mcrd LimitRTPRIO= in its unit)');
    }
  }
  const relay = new Relay(iface, logger, { ...loop, ...realtime, ...slots },
    { joinGroups: false, tolerateMissingOutputs: true,
      ...(groupText !== undefined ? { deferredFanoutGroup: Number(groupText) } : {}),
      // A worker that forwards nothing more exits, so mcrd restarts it now,
      // with this reason, instead of its watchdog a heartbeat timeout later.
      onLoopEnded: (code, message) => fatal(code, message) });
  // A host limit or permission: restarting at once would fail the same way.
  startStep('relay loop did not start', () => relay.start(packetFd, heartbeatFd, loopCpu));

  // One socket per output, for every output slot (a sync holds the old and
  // the new set at once): raised while still privileged, which is the only
  // time the hard limit can move.
  const files = startStep('open files limit', () => native.raiseOpenFilesLimit(slots.outputSlots + 64));
  if (files < slots.outputSlots + 64) {
    logger.warn({ code: 'EMFILE', openFilesLimit: files, needed: slots.outputSlots + 64 },
      'the open files limit is below one socket per output slot: a full sync of a large interface may refuse rules with EMFILE; raise LimitNOFILE= (or ulimit -Hn) for mcrd');
  }
  if (ids !== undefined) startStep(`switching to user ${user ?? ids.uid}`, () => native.dropPrivileges(ids.uid, ids.gid));
  logger.info({ uid: process.getuid?.(), capEff: native.effectiveCapabilities().toString(16), cpu }, 'worker ready');

  const handler = new CommandHandler(relay, logger);
  const stream = new Socket({ fd: commandFd, readable: true, writable: true });
  // A SyncRules of an interface at its limits exceeds the default 1 MiB frame.
  const decoder = new FrameDecoder({ maxFrameBytes: workerFrameBytes(slots) });
  let queue = Promise.resolve();
  stream.on('data', (chunk: Buffer) => {
    let frames: Buffer[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      fatal('ERR_MCR_BAD_FRAME', `bad frame from the supervisor: ${(err as Error).message}`);
    }
    for (const frame of frames) {
      // In order, one at a time: replies must follow commands' order.
      queue = queue.then(async () => {
        let command: Command;
        try {
          command = decodeCommand(frame);
        } catch (err) {
          // The wire contract: an error reply for that seq (when the frame
          // named one), and the next commands are served as usual.
          const e = err as WireError;
          logger.error({ code: e.code, err: e.message }, 'command not understood: answered with an error');
          if (e.messageId !== undefined) {
            stream.write(encodeFrame(encodeReply(handler.undecodable(e.messageId, { code: e.code, message: e.message }))));
          }
          return;
        }
        const { reply, after } = await handler.handle(command);
        stream.write(encodeFrame(encodeReply(reply)), () => {
          if (after === 'exit') process.exit(0);
          if (after === 'fail') process.exit(1);
        });
      }).catch((err: Error & { code?: string }) => fatal(err.code ?? 'ERR_MCR_WORKER', `command handling failed: ${err.message}`));
    }
  });
  // A reset or broken stream (mcrd gave up on it) is not an uncaught
  // exception: 'close' follows and stops the relay as for a clean close.
  stream.on('error', (err: Error & { code?: string }) => {
    logger.warn({ code: err.code ?? 'EIO', err: err.message }, 'command stream from the supervisor failed: stopping');
  });
  // The supervisor closed our stream: it is gone or wants us gone.
  stream.on('close', () => {
    void relay.stop().finally(() => process.exit(0));
  });
}

void main().catch((err: Error & { code?: string }) => fatal(err.code ?? 'ERR_MCR_WORKER', err.message));
