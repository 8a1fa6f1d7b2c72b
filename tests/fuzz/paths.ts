/** What the fuzzing scripts (tests/fuzz/run.ts, tests/fuzz/make-corpus.ts) share: the package root, the harnesses and what each drives. */

export { packageRoot } from '../../native/package-root.js';

/** The harnesses, in the order they run: native/fuzz/<name>_fuzz.cc over native/core/<name>.cc. */
export const HARNESSES = ['frame_parser', 'netlink_parser', 'fd_channel', 'rule_table'] as const;
export type HarnessName = (typeof HARNESSES)[number];

/**
 * The functions each harness drives, as llvm-cov names them (demangled):
 * what the runner's "target" coverage counts. The rest of each file is
 * code no input reaches (fd_channel's socket calls, drop reason names the
 * parser never returns, the Output destructor's close of a real fd).
 */
export const FUZZ_TARGETS: Record<HarnessName, RegExp> = {
  frame_parser: /^(frame_parser\.cc:)?mcr::(parse_frame|\(anonymous namespace\)::)/,
  netlink_parser: /mcr::/,
  fd_channel: /^mcr::parse_fd_message\(/,
  rule_table: /^mcr::RuleTable::/,
};
