/**
 * How `npm run fuzz` reads libFuzzer's output (tests/fuzz/libfuzzer-output.ts),
 * on excerpts of real LLVM 14 runs: a clean run's counts, and each kind of
 * finding it must fail on (a failed invariant, an ASan report, a UBSan
 * report, a leak, a timeout, out-of-memory) told apart, with the input's
 * path and the line that says what happened.
 */
import t from 'tap';
import { LibFuzzerOutput } from './libfuzzer-output.js';

function read(text: string): LibFuzzerOutput {
  const out = new LibFuzzerOutput();
  for (const line of text.split('\n')) out.line(line);
  return out;
}

t.test('a clean run: executions, edges, features, corpus and final stats', async (t) => {
  const out = read(`INFO: Running with entropic power schedule (0xFF, 100).
INFO: Seed: 1951099375
INFO: Loaded 1 modules   (539 inline 8-bit counters): 539 [0x56241b734aa0, 0x56241b734cbb),
INFO: Loaded 1 PC tables (539 PCs): 539 [0x56241b734cc0,0x56241b736e70),
INFO:        0 files found in build/fuzz/corpus/fd_channel
INFO: seed corpus: files: 9 min: 13b max: 86b total: 403b rss: 32Mb
#10	INITED cov: 180 ft: 420 corp: 9/403b exec/s: 0 rss: 33Mb
#4096	pulse  cov: 201 ft: 650 corp: 40/2Kb lim: 86 exec/s: 2048 rss: 40Mb
#531380	DONE   cov: 221 ft: 734 corp: 86/9914b lim: 4041 exec/s: 25303 rss: 479Mb
Done 531380 runs in 21 second(s)
stat::number_of_executed_units: 531380
stat::average_exec_per_sec:     25303
stat::new_units_added:          1210
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              479`);
  t.equal(out.status, 'ok');
  t.equal(out.detail(), undefined);
  t.equal(out.edgesTotal, 539);
  t.equal(out.edges, 221);
  t.equal(out.features, 734);
  t.equal(out.corpusInputs, 86);
  t.equal(out.execsFromProgress, 531380);
  t.equal(out.stats.get('number_of_executed_units'), 531380);
  t.equal(out.stats.get('average_exec_per_sec'), 25303);
  t.equal(out.stats.get('new_units_added'), 1210);
  t.equal(out.stats.get('peak_rss_mb'), 479);
  t.equal(out.artifact, undefined);
});

t.test('a failed invariant is a crash named by its check', async (t) => {
  const out = read(`#2	INITED cov: 2 ft: 2 corp: 1/1b exec/s: 0 rss: 32Mb
FUZZ_CHECK failed: err.err == EMSGSIZE at native/fuzz/fd_channel_fuzz.cc:155
==2854== ERROR: libFuzzer: deadly signal
    #0 0x55f07c74dca1 in __sanitizer_print_stack_trace (/work/main/build/fuzz/fd_channel+0xefca1)
NOTE: libFuzzer has rudimentary signal handlers.
SUMMARY: libFuzzer: deadly signal
MS: 4 InsertByte-ChangeBit-ChangeBit-ChangeByte-; base unit: adc83b19e793491b1c6ea0fd8b46cd9f32e592fc
artifact_prefix='/work/main/build/fuzz/artifacts/fd_channel/'; Test unit written to /work/main/build/fuzz/artifacts/fd_channel/crash-b526281f453675318346db589dbbc61a217954e8
Base64: XDo=
stat::number_of_executed_units: 51`);
  t.equal(out.status, 'crash');
  t.equal(out.detail(), 'FUZZ_CHECK failed: err.err == EMSGSIZE at native/fuzz/fd_channel_fuzz.cc:155');
  t.equal(out.artifact, '/work/main/build/fuzz/artifacts/fd_channel/crash-b526281f453675318346db589dbbc61a217954e8');
  t.equal(out.stats.get('number_of_executed_units'), 51);
});

t.test('an AddressSanitizer report is a crash named by its summary', async (t) => {
  const out = read(`=================================================================
==5201==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6030000016a8 at pc 0x55f5a3d7e336 bp 0x7fff747bb190 sp 0x7fff747bb188
READ of size 4 at 0x6030000016a8 thread T0
    #0 0x55f5a3d7e335 in mcr::parse_fd_message(msghdr const&, unsigned long, std::vector<int, std::allocator<int> >*, std::string*) /work/main/native/core/fd_channel.cc:87:7
SUMMARY: AddressSanitizer: heap-buffer-overflow /work/main/native/core/fd_channel.cc:87:7 in mcr::parse_fd_message
artifact_prefix='/tmp/a/'; Test unit written to /tmp/a/crash-cb1a28bd3d79bebf644d0174f597338dd8da1d59`);
  t.equal(out.status, 'crash');
  t.equal(out.detail(), 'SUMMARY: AddressSanitizer: heap-buffer-overflow /work/main/native/core/fd_channel.cc:87:7 in mcr::parse_fd_message');
  t.equal(out.artifact, '/tmp/a/crash-cb1a28bd3d79bebf644d0174f597338dd8da1d59');
});

t.test('a UBSan report (no ERROR line) is a crash', async (t) => {
  const out = read(`ub.cc:3:140: runtime error: signed integer overflow: 2147483647 + 85 cannot be represented in type 'int'
SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub.cc:3:140 in
stat::number_of_executed_units: 1`);
  t.equal(out.status, 'crash');
  t.match(out.detail(), /signed integer overflow/);
});

t.test('a leak', async (t) => {
  const out = read(`INFO: seed corpus: files: 2 min: 1b max: 3b total: 4b rss: 32Mb
==20659==ERROR: LeakSanitizer: detected memory leaks
Direct leak of 33 byte(s) in 1 object(s) allocated from:
SUMMARY: AddressSanitizer: 33 byte(s) leaked in 1 allocation(s).
INFO: a leak has been found in the initial corpus.
artifact_prefix='/tmp/k/'; Test unit written to /tmp/k/leak-ae6269698bf58fd847def39ce4ac2fae66e5387f
stat::number_of_executed_units: 4`);
  t.equal(out.status, 'leak');
  t.equal(out.detail(), 'SUMMARY: AddressSanitizer: 33 byte(s) leaked in 1 allocation(s).');
  t.equal(out.artifact, '/tmp/k/leak-ae6269698bf58fd847def39ce4ac2fae66e5387f');
});

t.test('a timeout', async (t) => {
  const out = read(`#2	INITED cov: 2 ft: 2 corp: 1/1b exec/s: 2 rss: 32Mb
ALARM: working on the last Unit for 1 seconds
       and the timeout value is 1 (use -timeout=N to change)
artifact_prefix='/tmp/k/'; Test unit written to /tmp/k/timeout-2955dfa9ac70cefa7887251a79649b87654adf18
==20313== ERROR: libFuzzer: timeout after 1 seconds
SUMMARY: libFuzzer: timeout`);
  t.equal(out.status, 'timeout');
  t.equal(out.detail(), 'ERROR: libFuzzer: timeout after 1 seconds');
  t.equal(out.artifact, '/tmp/k/timeout-2955dfa9ac70cefa7887251a79649b87654adf18');
});

t.test('out-of-memory, from libFuzzer or from ASan', async (t) => {
  const out = read(`==20687== ERROR: libFuzzer: out-of-memory (malloc(314572800))
   To change the out-of-memory limit use -rss_limit_mb=<N>
artifact_prefix='/tmp/k/'; Test unit written to /tmp/k/oom-c63ae6dd4fc9f9dda66970e827d13f7c73fe841c
SUMMARY: libFuzzer: out-of-memory`);
  t.equal(out.status, 'oom');
  t.equal(out.detail(), 'ERROR: libFuzzer: out-of-memory (malloc(314572800))');
  const asan = read('==1==ERROR: AddressSanitizer: requested allocation size 0xffffffffffffffff exceeds maximum supported size of 0x10000000000');
  t.equal(asan.status, 'oom');
});
