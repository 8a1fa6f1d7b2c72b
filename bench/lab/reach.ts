/**
 * A one-shot reachability probe between two lab namespaces.
 *
 * Uses `ping -c 1` when the machine has ping; otherwise (nothing is
 * installed for the lab) a UDP echo written with Node: a server in the
 * target namespace bound to the target address answers one datagram, and a
 * client in the source namespace waits for the echo. Both sides are bounded
 * by the timeout, and the server is stopped by its PID either way.
 */

import { LabError } from './errors.js';
import type { Lab } from './lab.js';

export type ProbeMethod = 'ping' | 'udp';

// Server: echo every datagram; say "ready" once bound so the client never races it.
const ECHO_SERVER = `
const [addr, port] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(port), addr, () => console.log('ready'));
`;

// Client: one datagram, exit 0 on the echo, 1 when the deadline passes.
const ECHO_CLIENT = `
const [addr, port, ms] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
const probe = Buffer.from('mcr-lab-probe');
s.on('message', (m) => { if (m.equals(probe)) process.exit(0); });
s.send(probe, Number(port), addr);
setTimeout(() => process.exit(1), Number(ms));
`;

let pingAvailable: boolean | undefined;

async function hasPing(lab: Lab, ns: string): Promise<boolean> {
  if (pingAvailable === undefined) {
    const r = await lab.exec(ns, 'sh', ['-c', 'command -v ping'], { reject: false, timeoutMs: 5000 });
    pingAvailable = r.exitCode === 0;
  }
  return pingAvailable;
}

/**
 * Resolves with the method used when `toAddr` (in `toNs`) answers from
 * `fromNs` within `timeoutMs`; rejects with ERR_LAB_UNREACHABLE otherwise.
 */
export async function checkReachable(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toAddr: string,
  timeoutMs = 2000,
): Promise<ProbeMethod> {
  if (await hasPing(lab, fromNs)) {
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const r = await lab.exec(fromNs, 'ping', ['-n', '-c', '1', '-W', seconds, toAddr], {
      reject: false,
      timeoutMs: timeoutMs + 5000,
    });
    if (r.exitCode !== 0) throw unreachable(fromNs, toAddr, `ping: ${r.stdout.trim()} ${r.stderr.trim()}`);
    return 'ping';
  }
  const port = String(20_000 + Math.floor(Math.random() * 40_000));
  const server = lab.spawn(toNs, process.execPath, ['-e', ECHO_SERVER, toAddr, port]);
  try {
    // A node start, not the probe: seconds on a loaded host (7 s ran out at load ~20), so bounded apart from timeoutMs.
    await server.waitForLine('stdout', /^ready$/, timeoutMs + 20_000);
    const r = await lab.exec(fromNs, process.execPath, ['-e', ECHO_CLIENT, toAddr, port, String(timeoutMs)], {
      reject: false,
      timeoutMs: timeoutMs + 5000,
    });
    if (r.exitCode !== 0) throw unreachable(fromNs, toAddr, `no UDP echo from ${toAddr}:${port} ${r.stderr.trim()}`);
    return 'udp';
  } finally {
    await server.stop('SIGTERM', 2000).catch(() => undefined);
  }
}

function unreachable(fromNs: string, toAddr: string, why: string): LabError {
  return new LabError('ERR_LAB_UNREACHABLE', `${toAddr} unreachable from ${fromNs} (${why.trim()})`);
}
