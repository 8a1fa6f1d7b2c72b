/**
 * Makes sure the lab and the comparison methods can run: ethtool (the lab
 * sets the relay outputs' offloads), smcroute (the kernel's own
 * multicast forwarding needs a daemon to hold the mroute socket and install
 * routes) and socat, both from Debian. A missing one is installed with
 * apt-get (after an `apt-get update` if the first try fails); socat is then
 * checked for the address options the suite uses, since they arrived in
 * different socat releases. Returns the versions for the report.
 */
import { execa } from 'execa';
import type { MethodName } from './config.js';
import { BenchError } from './errors.js';

const APT_TIMEOUT_MS = 300_000;
const SOCAT_OPTIONS = ['ip-add-membership', 'ip-multicast-if', 'reuseaddr', 'bind'];

export interface ToolVersions {
  smcroute?: string;
  socat?: string;
}

export async function ensureDependencies(methods: readonly MethodName[], log: (msg: string) => void): Promise<ToolVersions> {
  const versions: ToolVersions = {};
  // The lab turns UDP segmentation offload off on the relay's outputs (bench-lab.ts).
  await ensureCommand('ethtool', 'ethtool', log);
  if (methods.includes('kernel')) {
    await ensureCommand('smcrouted', 'smcroute', log);
    const v = await execa('smcrouted', ['-v'], { reject: false, timeout: 5000 });
    versions.smcroute = /SMCRoute v?([\w.-]+)/.exec(v.stdout + v.stderr)?.[1] ?? 'unknown';
  }
  if (methods.includes('socat')) {
    await ensureCommand('socat', 'socat', log);
    const v = await execa('socat', ['-V'], { reject: false, timeout: 5000 });
    versions.socat = /socat version ([\w.-]+)/.exec(v.stdout)?.[1] ?? 'unknown';
    const help = await execa('socat', ['-hhh'], { reject: false, timeout: 5000 });
    const missing = SOCAT_OPTIONS.filter((o) => !new RegExp(`^\\s+${o}\\s`, 'm').test(help.stdout));
    if (missing.length > 0) {
      throw new BenchError('ERR_BENCH_DEPENDENCY', `socat ${versions.socat} lacks address option(s) ${missing.join(', ')}: install a newer socat`);
    }
  }
  return versions;
}

async function ensureCommand(command: string, pkg: string, log: (msg: string) => void): Promise<void> {
  if (await onPath(command)) return;
  log(`${command} not found: installing Debian package ${pkg}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  let r = await execa('apt-get', ['install', '-y', pkg], { reject: false, timeout: APT_TIMEOUT_MS, env });
  if (r.failed) {
    // A fresh container often has no package lists yet.
    log(`apt-get install ${pkg} failed; running apt-get update and retrying`);
    await execa('apt-get', ['update'], { reject: false, timeout: APT_TIMEOUT_MS, env });
    r = await execa('apt-get', ['install', '-y', pkg], { reject: false, timeout: APT_TIMEOUT_MS, env });
  }
  if (r.failed || !(await onPath(command))) {
    const why = r.stderr.trim().split('\n').pop() ?? r.shortMessage;
    throw new BenchError('ERR_BENCH_DEPENDENCY', `could not install ${pkg} (needed for ${command}): ${why}`);
  }
}

async function onPath(command: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${command}`], { reject: false, timeout: 5000 });
  return !r.failed && r.stdout.trim() !== '';
}
