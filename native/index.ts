/**
 * The one typed door to the native addon (build/Release/mcr_native.node),
 * beside the C++ it describes. Nothing else in the project loads the .node
 * file; everything the addon exports is typed here so no `any` leaks past
 * this module. The addon is loaded lazily, on the first call.
 */
import nodeGypBuild from 'node-gyp-build';
import { packageRoot } from './package-root.js';

/** One output of a rule, as the rule model has it (common/rule-spec.ts, OutputSpec). */
export interface NativeOutput {
  group: string;
  port: number;
  interface: string;
  ttl?: number;
  source?: string;
}

/**
 * A rule as the addon reads it: the rule model's own fields (RuleSpec,
 * validated where it entered) plus the loop's id, so a rule keeps one
 * shape from the config or mcrctl to the C++ conversion.
 */
export interface NativeRule {
  id: number;
  inputGroup: string;
  /** 0: any port. inputGroup may be a prefix (`239.1.0.0/16`). */
  inputPort: number;
  /** Comma-separated addresses or prefixes (rule-spec.ts's canonical form). */
  source?: string;
  excludeSources?: string;
  outputs: NativeOutput[];
  /**
   * Build the rule even when an output's interface is missing (ENODEV) or
   * has no IPv4 address (EADDRNOTAVAIL): that output counts every datagram
   * as an error until the rule is built again. mcrd's workers set it, since
   * mcrd re-syncs them when interfaces change.
   */
  tolerateMissingOutputs?: boolean;
}

/** Counter slots the loop assigned to a rule and its outputs. */
export interface RuleSlots {
  ruleSlot: number;
  outputSlots: number[];
  /** false where the route was missing at open time: sends name the destination each time. */
  outputConnected: boolean[];
}

/** A rule the addon could not build (its socket refused, no counter slot): an errno-shaped error. */
export interface RefusedRule {
  refused: Error & { code?: string; errno?: number; syscall?: string };
}

/** How frames come in: a TPACKET_V2 mmap ring (default) or multishot recv into provided buffers. */
export type IngressMode = 'ring' | 'multishot';

export interface LoopOptions {
  packetFd: number;
  ingress?: IngressMode;
  ringDepth?: number;
  batch?: number;
  bufferCount?: number;
  bufferSize?: number;
  maxInflightSends?: number;
  statsIntervalMs?: number;
  deferTaskrun?: boolean;
  /** Batch a flow's waiting datagrams into UDP_SEGMENT sends (ring ingress only); default true. */
  udpGso?: boolean;
  /** After a walk of the ring that forwarded frames, sleep this many µs (0..10000) before the next, so sends carry more datagrams; 0 = off. */
  coalesceUs?: number;
  /** "auto" (the default, also when unset): never poll, pause after each walk while the loop is busy (native/core/poll_policy.h); N µs (1..1000000): keep polling that long after the last frame; 0: never poll nor pause. */
  busyPollUs?: number | 'auto';
  ruleSlots?: number;
  outputSlots?: number;
  /**
   * mcrd's heartbeat memfd for this worker (createHeartbeat): the loop stores
   * its turn count in word 0 every turn. Mapped by the constructor, so the
   * caller may close the fd once the Loop exists.
   */
  heartbeatFd?: number;
  /** Pin the loop thread alone to this CPU (the process's other threads stay where they are); unset: the loop thread runs where the process does. */
  loopCpu?: number;
  /** SCHED_FIFO priority (1..99) for the loop thread; 0 or unset: the normal policy. Needs CAP_SYS_NICE or RLIMIT_RTPRIO (EPERM at start otherwise, unless loopRtBestEffort). */
  loopRtPriority?: number;
  /** A refused loopRtPriority leaves the normal policy (with the slice), and start()'s loopRtRefused says why, instead of failing the start ("auto" resolved: common/loop-settings.ts). */
  loopRtBestEffort?: boolean;
  /** Scheduler slice of the loop thread: "auto" (the default, also when unset): 100 µs where the kernel gives it (Linux 6.12), else the kernel's, with the reason in start()'s loopSliceRefused; N µs (100..100000): that or refuse to start; 0: the kernel's. Not asked for while the loop thread runs SCHED_FIFO (a refused best-effort priority leaves it the slice). */
  loopSliceUs?: number | 'auto';
}

/** The numeric options of a Loop, whose ranges the addon defines. */
export type LoopOptionName = 'packetFd' | 'ringDepth' | 'batch' | 'bufferCount' | 'bufferSize' | 'maxInflightSends' |
  'statsIntervalMs' | 'busyPollUs' | 'coalesceUs' | 'ruleSlots' | 'outputSlots' | 'loopCpu' | 'loopRtPriority' | 'loopSliceUs';

export interface LoopInfo {
  deferTaskrun: boolean;
  /** The loop's sleeps are kept out of the kernel's iowait (IORING_ENTER_NO_IOWAIT, Linux 6.15); false: they count as iowait. */
  noIowait: boolean;
  ingress: IngressMode;
  sqEntries: number;
  cqEntries: number;
  /** The loop thread's scheduler slice in force, µs; 0: the kernel's. */
  loopSliceUs: number;
  /** Set when the default ("auto") asked for a slice and the kernel refused it: why (the loop runs with the kernel's slice). */
  loopSliceRefused?: { code: string; message: string };
  /** The loop thread's SCHED_FIFO priority in force; 0: the normal policy. */
  loopRtPriority: number;
  /** Set when a best-effort SCHED_FIFO (loopRtBestEffort) was refused: why (the loop runs under the normal policy). */
  loopRtRefused?: { code: string; message: string };
}

/** A log record from the loop thread; level uses pino's numbers. */
export interface NativeLogEvent {
  level: number;
  code: string;
  message: string;
  errno: number;
  slot: number;
  count: number;
}

export interface NativeLoop {
  /** Starts the loop thread; `onLogs` is called on this thread whenever log events wait for drainLogs(). */
  start(onLogs?: () => void): LoopInfo;
  counters(): ArrayBuffer;
  addRule(rule: NativeRule): Promise<RuleSlots>;
  removeRule(id: number): Promise<void>;
  /** Per rule, in order: its slots, or why it was refused (the others are installed regardless). */
  replaceRules(rules: NativeRule[]): Promise<Array<RuleSlots | RefusedRule>>;
  stop(): Promise<void>;
  drainLogs(): NativeLogEvent[];
}

/**
 * One parsed NETLINK_ROUTE event. `resync`: events were lost, forget the
 * state, a dump follows; `synced`: the dump ended, the state is complete.
 */
export type InterfaceEvent =
  | { type: 'link' | 'linkRemoved'; ifindex: number; name: string; up: boolean; running: boolean; flags: number }
  /** An IPv4 or IPv6 address (family 4 or 6); an IPv6 one still tentative (DAD) or DAD-failed comes as addressRemoved. */
  | { type: 'addressAdded' | 'addressRemoved'; ifindex: number; name: string; address: string; family: 4 | 6; prefixLength: number }
  | { type: 'resync' }
  | { type: 'synced' };

export interface NativeInterfaceMonitor {
  /** Stops polling and closes the netlink socket; idempotent. */
  close(): void;
  /** Netlink messages or attributes skipped as malformed. */
  malformed(): number;
}

/** Called on the JS thread; after an error the monitor has stopped (make a new one). */
export type InterfaceMonitorCallback = (err: NativeError | null, events: InterfaceEvent[] | null) => void;

/** One interface's root qdisc (native/core/interface_drops.h). */
export interface RootQdisc {
  ifindex: number;
  /** "noqueue", "fq_codel", "mq", "tbf", ... */
  kind: string;
  drops?: number;
}

/** One link's transmit drops (native/core/interface_drops.h). */
export interface LinkDrops {
  ifindex: number;
  txDropped: number;
  name: string;
  /** IFLA_INFO_KIND: "vlan", "macvlan", "veth", ...; "" for a physical device. */
  kind: string;
  /** IFLA_LINK in mcrd's namespace: a stacked device's parent (or a veth's peer); absent when none. */
  linkIfindex?: number;
  /** IFLA_MASTER: the bond, team or bridge this link is a port of; absent when none. */
  masterIfindex?: number;
}

export interface CounterLayout {
  loop: string[];
  rule: string[];
  output: string[];
}

export interface NativeAddon {
  Loop: new (options: LoopOptions) => NativeLoop;
  /**
   * An AF_PACKET socket for `iface` (needs CAP_NET_RAW). By default it is
   * bound and in fan-out group `fanoutGroup` (0 or absent: none) at once;
   * with `deferred` it receives nothing until activatePacketSocket().
   */
  openPacketSocket(iface: string, fanoutGroup?: number, options?: { deferred?: boolean }): number;
  /**
   * Binds a deferred packet socket to `iface` and joins fan-out group
   * `fanoutGroup` (0: none): from here on it receives. Needs no capability.
   * Throws with an errno code (EINVAL: already active; ENODEV: no such interface).
   */
  activatePacketSocket(fd: number, iface: string, fanoutGroup: number, ifindex?: number): void;
  /** An interface's index by name (SIOCGIFINDEX), with its errno as the code (ENODEV, or EMFILE when no descriptor is left for the lookup). */
  interfaceIndex(iface: string): number;
  /** A socket holding the membership of an IPv4 (IP_ADD_MEMBERSHIP) or IPv6 (IPV6_JOIN_GROUP) group on the interface; close it to leave. */
  joinGroup(iface: string, group: string): number;
  /** A NETLINK_ROUTE socket on link and IPv4 / IPv6 address changes, polled on the event loop; dumps the state first. */
  InterfaceMonitor: new (callback: InterfaceMonitorCallback) => NativeInterfaceMonitor;
  /** A plain datagram socket to hold group memberships on: AF_INET (family 4, the default) or AF_INET6 (6). */
  openMembershipSocket(family?: 4 | 6): number;
  /**
   * Any-source membership of `group` (an IPv4 or IPv6 address of the
   * socket's family, else EAFNOSUPPORT), the interface named by index:
   * IPv4 IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP (ip_mreqn), IPv6
   * MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (MLD). A leave drops the group on
   * the socket whatever its mode.
   */
  changeMembership(fd: number, ifindex: number, group: string, join: boolean): void;
  /**
   * MCAST_JOIN_SOURCE_GROUP (join: IGMPv3 / MLDv2 INCLUDE `source`) or
   * MCAST_LEAVE_SOURCE_GROUP with group_source_req naming the interface by
   * index; group and source of the socket's family. Never on a socket
   * holding `group` any-source: the kernel would turn that membership into
   * INCLUDE {source}. ENOBUFS on join: the socket's source limit for the
   * group (net.ipv4.igmp_max_msf, net.ipv6.mld_max_msf) or its membership
   * limit; use another socket.
   */
  changeSourceMembership(fd: number, ifindex: number, group: string, source: string, join: boolean): void;
  interfaceMtu(iface: string): number;
  /**
   * What the kernel dropped on every interface of this network namespace
   * (native/core/interface_drops.h): each root queue discipline with its
   * queue counters when it keeps them (`tc -s qdisc show`; `drops` is the
   * kernel's 32-bit count) and each link's transmit drops (`ip -s link`),
   * by interface index. Read on a libuv worker thread (the dumps take the
   * kernel's rtnl lock); rejects with the errno as the code: ETIMEDOUT (a
   * dump gave no reply for a second), EAGAIN (the interfaces kept changing
   * during it), EBADMSG or EMSGSIZE (a reply it could not read).
   */
  interfaceDrops(): Promise<{ roots: RootQdisc[]; links: LinkDrops[] }>;
  closeFd(fd: number): void;
  counterLayout(): CounterLayout;
  /** The accepted range of every numeric Loop option: the one definition (loop_wrap.cc). */
  loopOptionRanges(): Record<LoopOptionName, { min: number; max: number }>;
  /** socketpair(AF_UNIX, SOCK_SEQPACKET or SOCK_STREAM, with SOCK_CLOEXEC). */
  socketPair(type: 'seqpacket' | 'stream'): [number, number];
  /** One SCM_RIGHTS message: the fds (they stay open here) and a non-empty payload. */
  sendFds(socket: number, fds: number[], data: Buffer): void;
  /** Waits up to timeoutMs (-1: forever) for one message of at most maxFds (default 16) fds; received fds are close-on-exec. */
  recvFds(socket: number, timeoutMs: number, maxFds?: number): { fds: number[]; data: Buffer };
  /** sched_setaffinity for every thread of this process (EINVAL for an empty list or a CPU out of range). */
  pinToCpus(cpus: number[]): void;
  /** PR_SET_PDEATHSIG, failing with ESRCH if the parent is already gone. */
  dieWithParent(signal: number, parentPid: number): void;
  lookupUser(name: string): { uid: number; gid: number };
  /** setgroups([]), setresgid, setresuid, NO_NEW_PRIVS; EPERM if a capability is left. */
  dropPrivileges(uid: number, gid: number): void;
  effectiveCapabilities(): bigint;
  /**
   * A worker's heartbeat block: a 64-byte memfd to hand to the worker (close
   * it here once handed over) and mcrd's mapping of it. words[0] is the loop's
   * turn count, 0 until its loop runs, then changing at least every stats
   * interval (100 ms) while the loop makes progress.
   */
  createHeartbeat(): { fd: number; words: BigUint64Array };
  /** Raises RLIMIT_NOFILE towards `wanted` (the hard limit too with CAP_SYS_RESOURCE); returns the soft limit now in force. */
  raiseOpenFilesLimit(wanted: number): number;
  /** Raises RLIMIT_RTPRIO to `priority` (1..99) while privileged, so a thread may go back under SCHED_FIFO after the drop. */
  allowRealtimePriority(priority: number): void;
  /**
   * Tells the loop's saturation guard that this process will switch to an
   * unprivileged user: CAP_SYS_NICE held until then no longer counts as a
   * way back to SCHED_FIFO after a step down, only RLIMIT_RTPRIO does.
   */
  expectPrivilegeDrop(): void;
  /** SO_PEERCRED of a connected Unix socket: who connected (pid, uid, gid at connect time). */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /** getgrnam_r: the group's id; ENOENT when there is no such group. */
  lookupGroup(name: string): number;
  /** One datagram to a unix datagram socket: a path, or an abstract name starting with '@' (the systemd notify protocol). Never blocks: EAGAIN when its queue is full. */
  sendUnixDatagram(address: string, data: Buffer): void;
  /** Opens (0600, created if missing) and flock()s `path` exclusively without waiting; the descriptor (close-on-exec) holds the lock until closed or the process ends. EWOULDBLOCK: another process holds it. */
  lockFile(path: string): number;
  /** Creates (and closes) a ring of these sizes with the relay loop's flags: throws io_uring_setup's errno (EPERM: kernel.io_uring_disabled, ENOMEM: RLIMIT_MEMLOCK); lists the loop's opcodes the kernel lacks. */
  probeIoUring(sqEntries: number, cqEntries: number): { deferTaskrun: boolean; features: number; noIowait: boolean; missingOps: string[] };
  /** Gives a short-lived thread of its own a scheduler slice of `sliceUs` (as the loop's --loop-slice-us does): throws sched_setattr's errno, or EOPNOTSUPP when the kernel keeps its own slice (before Linux 6.12). */
  probeThreadSlice(sliceUs: number): void;
  /** Puts a short-lived thread under SCHED_FIFO at `priority`, as a worker's loop thread would be; throws the errno the kernel refused it with. */
  probeThreadFifo(priority: number): void;
}

/** Errors from the addon: Node-style system errors or our own ERR_MCR_* codes. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

let addon: NativeAddon | undefined;

/**
 * Loads the .node file on first use, with node-gyp-build (which looks in
 * the package's build/Release, build/Debug and prebuilds/), so importing
 * this module for its types, or from a process that never calls into
 * native code (mcrctl), costs nothing and cannot fail.
 */
function load(): NativeAddon {
  if (addon !== undefined) return addon;
  const root = packageRoot();
  try {
    addon = nodeGypBuild(root) as NativeAddon;
  } catch (cause) {
    const err = new Error(`mcr: native addon not found under ${root}/build: run \`npm ci\` (needs liburing-dev and a C++ compiler)`, { cause }) as NativeError;
    err.code = 'ERR_MCR_NO_ADDON';
    throw err;
  }
  return addon;
}

/** The addon, typed; its properties load it on first access. */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_target, name) => Reflect.get(load(), name) as unknown,
});
