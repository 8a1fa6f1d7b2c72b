/**
 * Reads what a libFuzzer run prints (tests/fuzz/run.ts feeds it line by
 * line): the progress lines (`#N NEW cov: C ft: F corp: K/...`), the
 * instrumented edge count, `-print_final_stats=1`'s `stat::` lines, the
 * input saved for a finding, and what ended the run: a crash (ASan/UBSan
 * report, deadly signal such as a failed FUZZ_CHECK's abort), a leak
 * (LeakSanitizer), a timeout (-timeout) or out-of-memory (-rss_limit_mb,
 * -malloc_limit_mb). Line formats are those of LLVM 14's libFuzzer and
 * sanitizers (tests/fuzz/libfuzzer-output.test.ts holds real excerpts).
 * jsfuzz (tests/fuzz/js/engine) prints the same progress, stat and
 * artifact lines; its own lines say `jsfuzz` where libFuzzer's say
 * `libFuzzer`, and its edge total is `INFO: instrumented N modules: M
 * counters`. An uncaught exception out of a JavaScript target is a crash.
 */

export type Status = 'ok' | 'crash' | 'leak' | 'timeout' | 'oom' | 'hung';

export class LibFuzzerOutput {
  /** The unit count of the last progress line (the final stats have the exact one). */
  execsFromProgress = 0;
  /** `cov:` of the last progress line: instrumented edges reached. */
  edges = 0;
  /** Instrumented edges in the binary (`INFO: Loaded ... (N inline 8-bit counters)`). */
  edgesTotal = 0;
  /** `ft:` of the last progress line. */
  features = 0;
  corpusInputs = 0;
  /** `stat::name: value` lines of -print_final_stats=1. */
  readonly stats = new Map<string, number>();
  status: Status = 'ok';
  /** The path libFuzzer wrote the input of a finding to, as it printed it. */
  artifact: string | undefined;
  private firstError: string | undefined;
  private failedCheck: string | undefined;
  private runtimeError: string | undefined;
  private summary: string | undefined;

  line(text: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^INFO: Loaded \d+ modules?\s+\((\d+) inline 8-bit counters\)/.exec(text))) {
      this.edgesTotal += Number(m[1]);
    } else if ((m = /^INFO: instrumented \d+ modules?: (\d+) counters/.exec(text))) {
      this.edgesTotal = Number(m[1]);
    } else if ((m = /^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) corp: (\d+)\//.exec(text))) {
      this.execsFromProgress = Number(m[1]);
      this.edges = Number(m[2]);
      this.features = Number(m[3]);
      this.corpusInputs = Number(m[4]);
    } else if ((m = /^stat::(\w+):\s+(\d+)/.exec(text))) {
      this.stats.set(m[1] ?? '', Number(m[2]));
    } else if ((m = /Test unit written to (\S+)/.exec(text))) {
      this.artifact = m[1];
    }

    // What ended the run: the first report decides.
    if (/ERROR: (libFuzzer|jsfuzz): timeout/.test(text)) this.raise('timeout', text);
    else if (/ERROR: (libFuzzer|jsfuzz): out-of-memory|ERROR: AddressSanitizer: (out of memory|allocation-size-too-big|requested allocation size)/.test(text)) {
      this.raise('oom', text);
    } else if (/ERROR: LeakSanitizer/.test(text)) this.raise('leak', text);
    else if (/ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer|jsfuzz)/.test(text) || / runtime error: /.test(text)) {
      this.raise('crash', text);
    }
    if (this.failedCheck === undefined && text.startsWith('FUZZ_CHECK failed')) this.failedCheck = text;
    if (this.runtimeError === undefined && / runtime error: /.test(text)) this.runtimeError = text;
    if (this.summary === undefined && text.startsWith('SUMMARY: ')) this.summary = text;
  }

  private raise(status: Status, text: string): void {
    if (this.status !== 'ok') return;
    this.status = status;
    this.firstError = text.replace(/^==\d+==\s*/, '').trim();
  }

  /**
   * The most telling line about what went wrong: for a crash a failed
   * invariant, a UBSan report or the sanitizer's summary (kind, file:line,
   * function); for a leak the summary (bytes, allocations); else the error.
   */
  detail(): string | undefined {
    // libFuzzer's own summaries ("deadly signal", "timeout") and jsfuzz's timeout and out-of-memory say less than the lines before them.
    const vague = (line: string): boolean => line.startsWith('SUMMARY: libFuzzer') || /^SUMMARY: jsfuzz: (timeout|out-of-memory)/.test(line);
    const sanitizerSummary = this.summary !== undefined && !vague(this.summary) ? this.summary : undefined;
    if (this.status === 'crash') return this.failedCheck ?? this.runtimeError ?? sanitizerSummary ?? this.firstError;
    if (this.status === 'leak') return sanitizerSummary ?? this.firstError;
    return this.firstError ?? this.summary;
  }
}
