/** What the fuzzing scripts (tests/fuzz/run.ts, tests/fuzz/make-corpus.ts, the JS fuzzer) share: the package root, the harnesses and what each drives. */

export { packageRoot } from '../../native/package-root.js';

/** The libFuzzer harnesses, in the order they run: native/fuzz/<name>_fuzz.cc over native/core/<name>.cc. */
export const NATIVE_HARNESSES = ['frame_parser', 'netlink_parser', 'interface_drops', 'fd_channel', 'rule_table', 'stream_monitor'] as const;
export type NativeHarnessName = (typeof NATIVE_HARNESSES)[number];

/** The JavaScript harnesses, run by jsfuzz (tests/fuzz/js/engine): tests/fuzz/js/<name>.ts. */
export const JS_HARNESSES = ['control_codec', 'worker_codec', 'config_loader', 'mcrctl_add'] as const;
export type JsHarnessName = (typeof JS_HARNESSES)[number];

/** Every harness, native first, in the order `npm run fuzz` runs them. */
export const HARNESSES = [...NATIVE_HARNESSES, ...JS_HARNESSES] as const;
export type HarnessName = (typeof HARNESSES)[number];

export const isJsHarness = (name: string): name is JsHarnessName => (JS_HARNESSES as readonly string[]).includes(name);

/**
 * The functions each native harness drives, as llvm-cov names them
 * (demangled): what the runner's "target" coverage counts. The rest of each
 * file is code no input reaches (fd_channel's and interface_drops' socket calls, drop reason
 * names the parser never returns, the Output destructor's close of a real fd).
 */
export const FUZZ_TARGETS: Record<NativeHarnessName, RegExp> = {
  frame_parser: /^(frame_parser\.cc:)?mcr::(parse_frame|\(anonymous namespace\)::)/,
  netlink_parser: /mcr::/,
  // The parse, not the dumps' socket calls (read_interface_drops, dump, now_ns).
  interface_drops: /^(interface_drops\.cc:)?(mcr::DumpParse )?mcr::(parse_qdisc_dump\(|parse_link_dump\(|\(anonymous namespace\)::(read_stats|read_tx_dropped|parse_qdisc|parse_link|parse_dump|set_drops)[<(])/,
  fd_channel: /^mcr::parse_fd_message\(/,
  rule_table: /^mcr::RuleTable::/,
  stream_monitor: /^mcr::(RtpAnalyzer|TsAnalyzer|StreamMonitor)::/,
};

/**
 * protobufjs's wire reader (CommonJS): where a frame's bytes are read,
 * instrumented for the wire harnesses so the fuzzer sees the varint,
 * length and wire-type paths its input takes. (The per-message decoders
 * protobufjs generates at run time with new Function are not.)
 */
const PROTOBUF_READER = ['node_modules/protobufjs/src/reader.js', 'node_modules/protobufjs/src/reader_buffer.js', 'node_modules/protobufjs/src/util/utf8.js'];

/**
 * What each JavaScript harness drives. `instrument`: the files (path
 * prefixes under the package root; compiled code under dist/) jsfuzz
 * instruments, whose counters guide it and make up its edge count; `files`:
 * the sources whose line, branch and function coverage the runner reports
 * as the harness's "target".
 */
export const JS_TARGETS: Record<JsHarnessName, { instrument: string[]; files: string[] }> = {
  control_codec: {
    instrument: ['dist/proto/', ...PROTOBUF_READER],
    files: ['proto/framing.ts', 'proto/codec.ts', 'proto/control.ts'],
  },
  worker_codec: {
    instrument: ['dist/proto/', ...PROTOBUF_READER],
    files: ['proto/codec.ts', 'proto/worker.ts'],
  },
  config_loader: {
    instrument: ['dist/supervisor/config/', 'dist/common/rule-spec.js', 'dist/common/rule-limits.js', 'dist/common/loop-settings.js', 'dist/supervisor/fleet/backoff.js'],
    files: ['supervisor/config/json5-scanner.ts', 'supervisor/config/json5-parser.ts', 'supervisor/config/schema.ts', 'common/rule-spec.ts'],
  },
  mcrctl_add: {
    instrument: ['dist/tools/mcrctl/', 'dist/common/rule-spec.js', 'dist/common/control-errors.js'],
    files: ['tools/mcrctl/rule-args.ts', 'tools/mcrctl/errors.ts', 'common/rule-spec.ts'],
  },
};
