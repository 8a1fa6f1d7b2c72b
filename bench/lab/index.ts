/**
 * The network-namespace lab: what integration tests and benchmarks import.
 *
 * Lab (lab.ts) builds namespaces, veths, VLANs, addresses and routes and
 * runs processes in them; createRelayLab (relay-lab.ts) builds the standard
 * src → relay → sinks topology; skipUnlessRoot (skip.ts) skips tests where
 * namespaces cannot be made, skipUnlessVlan (features.ts) where the kernel
 * lacks 802.1Q, and the kernel features the bench's anchors need; checkReachable (reach.ts) probes a hop;
 * threadsOf (threads.ts) reads how the kernel schedules a started process's threads.
 */

export { LabError, type LabErrorCode } from './errors.js';
export { Lab, withLab, type ExecOptions, type ExecResult } from './lab.js';
export { LabProcess, type SpawnOptions, type SpawnResult, type SpawnSubprocess, type StreamName } from './process.js';
export { createRelayLab, type LabHost, type LabInterface, type RelayLab, type RelayLabOptions } from './relay-lab.js';
export { checkReachable, type ProbeMethod } from './reach.js';
export { LAB_SKIP_REASON, labUnavailableReason, skipUnlessRoot, type SkippableTest } from './skip.js';
export { MROUTE_SKIP_REASON, MROUTE6_SKIP_REASON, multicastRoutingUnavailableReason, multicastRouting6UnavailableReason, nftNetdevUnavailableReason, skipUnlessVlan, VLAN_SKIP_REASON, vlanUnavailableReason } from './features.js';
export { IFNAME_MAX } from './names.js';
export { describeLoopThread, SCHED_FIFO, SCHED_OTHER, threadsOf, type ThreadView } from './threads.js';
