/**
 * One result of `mcrd --check-host`: what was checked, on what (an
 * interface, or "host"), whether it passes, what was found and the exact
 * command that fixes it. `info` findings are facts worth knowing that need
 * no change (a veth has no ring to size); only `fail` makes the check exit 1.
 * mcrd logs the failures, and the info findings marked warnAtStart, as
 * warnings when it starts.
 */
export type Verdict = 'pass' | 'fail' | 'info';

export interface Finding {
  /** Short name of the check: "net.core.wmem_max", "ring size", "multicast flag", ... */
  check: string;
  /** "host" or an interface name with its role: "in0 (input)". */
  subject: string;
  verdict: Verdict;
  /** What was found, and why it matters. */
  detail: string;
  /** The exact command or setting that fixes it (fail findings always have one). */
  fix?: string;
  /** An info finding mcrd still logs as a warning at start: a default that fell back to something slower. */
  warnAtStart?: true;
}

export const pass = (check: string, subject: string, detail: string): Finding => ({ check, subject, verdict: 'pass', detail });
export const info = (check: string, subject: string, detail: string, fix?: string): Finding =>
  ({ check, subject, verdict: 'info', detail, ...(fix !== undefined ? { fix } : {}) });
export const fail = (check: string, subject: string, detail: string, fix: string): Finding => ({ check, subject, verdict: 'fail', detail, fix });
