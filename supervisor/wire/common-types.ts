/**
 * TypeScript shapes of the messages in proto/common.proto, shared by the
 * control and worker protocols. Hand-written to match the .proto field for
 * field (camelCase names); the codec round-trip tests catch any drift.
 * Optional properties are the fields marked `optional` in the .proto.
 */

/** One destination of a rule (mcr.Output). */
export interface Output {
  /** Destination: a multicast group or a unicast host (IPv4). */
  group: string;
  port: number;
  interface: string;
  /** 1..255; absent means the relay's default. */
  ttl?: number;
  /** Address to send from; absent means the interface's first IPv4 address. */
  source?: string;
}

/** A relay rule (mcr.Rule). */
export interface Rule {
  /** Assigned by mcrd; 0 in an add request. */
  id: number;
  name?: string;
  inputInterface: string;
  /** Destination matched on input: a multicast group or a unicast address. */
  inputGroup: string;
  inputPort: number;
  /** Only datagrams from this source match; absent means any. */
  source?: string;
  outputs: Output[];
}

/** Counters of one output (mcr.OutputStats). */
export interface OutputStats {
  packets: number;
  bytes: number;
  /** Computed by mcrd from successive samples; absent without an earlier sample. */
  pps?: number;
  errors: number;
}

/** Counters of one rule (mcr.RuleStats); outputs follow Rule.outputs' order. */
export interface RuleStats {
  ruleId: number;
  packets: number;
  bytes: number;
  /** As OutputStats.pps, for the datagrams the rule matched. */
  pps?: number;
  errors: number;
  outputs: OutputStats[];
}

/** An errno-shaped failure (mcr.Error). */
export interface ErrorInfo {
  code: string;
  message: string;
}

/** A rule a worker could not apply, and why (mcr.RuleRefusal). */
export interface RuleRefusal {
  ruleId: number;
  error: ErrorInfo;
}
