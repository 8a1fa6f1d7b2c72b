/**
 * Makes sure the lab and the comparison methods can run, and says which
 * anchors cannot: ethtool (the lab sets the relay outputs' offloads),
 * smcroute (the kernel's own multicast forwarding needs a daemon to hold the
 * mroute socket and install routes), socat, nftables and GStreamer, all from
 * Debian. A missing one is installed with apt-get (after an `apt-get update`
 * if the first try fails); socat is then checked for the address options the
 * suite uses, since they arrived in different socat releases.
 *
 * An anchor the host cannot run is not an error: the kernel's forwarding
 * without CONFIG_IP_MROUTE (its IPv6 cells: without CONFIG_IPV6_MROUTE), nftables without its netdev pieces or the nft
 * command, GStreamer without gst-launch-1.0 or its udp plugins. Its cells are
 * skipped with the exact reason (in the cell and the report) and everything
 * else is measured. Returns the versions for the report and the reasons.
 */
import { execa } from 'execa';
import { multicastRouting6UnavailableReason, multicastRoutingUnavailableReason, nftNetdevUnavailableReason } from './lab/index.js';
import type { Family, MethodName } from './config.js';
import { BenchError } from './errors.js';

const APT_TIMEOUT_MS = 300_000;
const SOCAT_OPTIONS = ['ip-add-membership', 'ip-multicast-if', 'reuseaddr', 'bind'];

export interface ToolVersions {
  smcroute?: string;
  socat?: string;
  nft?: string;
  gstreamer?: string;
}

export interface Dependencies {
  versions: ToolVersions;
  /** Methods this host cannot run, with the reason their (IPv4) cells carry. */
  skipped: Partial<Record<MethodName, string>>;
  /** The same for the IPv6 cells: the kernel's needs CONFIG_IPV6_MROUTE rather than CONFIG_IP_MROUTE. */
  skipped6: Partial<Record<MethodName, string>>;
}

export async function ensureDependencies(methods: readonly MethodName[], log: (msg: string) => void, families: readonly Family[] = [4]): Promise<Dependencies> {
  const versions: ToolVersions = {};
  const skipped: Partial<Record<MethodName, string>> = {};
  // The lab turns UDP segmentation offload off on the relay's outputs (bench-lab.ts).
  await ensureCommand('ethtool', 'ethtool', log);
  let kernel6: string | undefined;
  if (methods.includes('kernel')) {
    // Each IP version has its own kernel option; smcroute serves both.
    const why = multicastRoutingUnavailableReason();
    kernel6 = multicastRouting6UnavailableReason();
    if (why !== undefined) skipped.kernel = why;
    if ((families.includes(4) && why === undefined) || (families.includes(6) && kernel6 === undefined)) {
      await ensureCommand('smcrouted', 'smcroute', log);
      const v = await execa('smcrouted', ['-v'], { reject: false, timeout: 5000 });
      versions.smcroute = /SMCRoute v?([\w.-]+)/.exec(v.stdout + v.stderr)?.[1] ?? 'unknown';
    }
  }
  if (methods.includes('nft')) {
    const missing = await tryInstall('nft', 'nftables', log);
    const why = missing ?? (await nftNetdevUnavailableReason());
    if (why !== undefined) {
      skipped.nft = why;
    } else {
      const v = await execa('nft', ['--version'], { reject: false, timeout: 5000 });
      versions.nft = /nftables v([\w.-]+)/.exec(v.stdout)?.[1] ?? 'unknown';
    }
  }
  if (methods.includes('gstreamer')) {
    const why = await gstreamerUnavailableReason(log);
    if (why !== undefined) {
      skipped.gstreamer = why;
    } else {
      const v = await execa('gst-launch-1.0', ['--version'], { reject: false, timeout: 5000 });
      versions.gstreamer = /GStreamer ([\w.-]+)/.exec(v.stdout)?.[1] ?? 'unknown';
    }
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
  const skipped6: Partial<Record<MethodName, string>> = { ...skipped };
  delete skipped6.kernel;
  if (kernel6 !== undefined) skipped6.kernel = kernel6;
  return { versions, skipped, skipped6 };
}

/** gst-launch-1.0 (gstreamer1.0-tools) with the udpsrc and udpsink elements (gstreamer1.0-plugins-good). */
async function gstreamerUnavailableReason(log: (msg: string) => void): Promise<string | undefined> {
  const tools = await tryInstall('gst-launch-1.0', 'gstreamer1.0-tools', log);
  if (tools !== undefined) return tools;
  const hasElements = async (): Promise<boolean> => {
    const rs = await Promise.all(['udpsrc', 'udpsink'].map((e) => execa('gst-inspect-1.0', ['--exists', e], { reject: false, timeout: 30_000 })));
    return rs.every((r) => r.exitCode === 0);
  };
  if (await hasElements()) return undefined;
  const why = await aptInstall('gstreamer1.0-plugins-good', log);
  if (why === undefined && (await hasElements())) return undefined;
  return `GStreamer's udpsrc/udpsink elements are missing and Debian package gstreamer1.0-plugins-good could not be installed${why !== undefined ? `: ${why}` : ''}`;
}

async function ensureCommand(command: string, pkg: string, log: (msg: string) => void): Promise<void> {
  const why = await tryInstall(command, pkg, log);
  if (why !== undefined) throw new BenchError('ERR_BENCH_DEPENDENCY', why);
}

/** Installs `pkg` when `command` is missing; undefined when the command is there afterwards, else why not. */
async function tryInstall(command: string, pkg: string, log: (msg: string) => void): Promise<string | undefined> {
  if (await onPath(command)) return undefined;
  log(`${command} not found: installing Debian package ${pkg}`);
  const why = await aptInstall(pkg, log);
  if (why === undefined && (await onPath(command))) return undefined;
  return `${command} is missing and Debian package ${pkg} could not be installed${why !== undefined ? `: ${why}` : ''}`;
}

async function aptInstall(pkg: string, log: (msg: string) => void): Promise<string | undefined> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  let r = await execa('apt-get', ['install', '-y', pkg], { reject: false, timeout: APT_TIMEOUT_MS, env });
  if (r.failed) {
    // A fresh container often has no package lists yet.
    log(`apt-get install ${pkg} failed; running apt-get update and retrying`);
    await execa('apt-get', ['update'], { reject: false, timeout: APT_TIMEOUT_MS, env });
    r = await execa('apt-get', ['install', '-y', pkg], { reject: false, timeout: APT_TIMEOUT_MS, env });
  }
  return r.failed ? (r.stderr.trim().split('\n').pop() ?? r.shortMessage) : undefined;
}

async function onPath(command: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${command}`], { reject: false, timeout: 5000 });
  return !r.failed && r.stdout.trim() !== '';
}
