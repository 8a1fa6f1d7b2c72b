/**
 * A process started inside a lab namespace, and how it is watched and ended.
 *
 * The process runs as `ip netns exec NS cmd ...`; `ip` execs the command in
 * place (no fork outside batch mode), so the PID we hold is the command's own
 * PID. Output is split into lines as it arrives, so tests can wait for a
 * "ready" line instead of sleeping. Every wait has a time limit, and signals
 * go only to this PID (through the child handle, which stops sending once the
 * child has been reaped, so a recycled PID is never hit).
 */

import { execa, type Result, type ResultPromise } from 'execa';
import { LabError } from './errors.js';
import { raceTimeout } from './time.js';

/** execa options for lab processes: we read output ourselves and escalate ourselves. */
type ExecaSpawnOptions = {
  reject: false;
  buffer: false;
  stdin: 'pipe' | 'ignore';
  forceKillAfterDelay: false;
  cleanup: true;
};

export type SpawnSubprocess = ResultPromise<ExecaSpawnOptions>;
/** How the process ended; stdout/stderr are in the handle's line arrays instead. */
export type SpawnResult = Result<ExecaSpawnOptions>;
export type StreamName = 'stdout' | 'stderr';

export interface SpawnOptions {
  /** Lines kept per stream; older ones are dropped (default 10000). */
  maxLines?: number;
  /**
   * 'pipe' to talk to the process with write()/endInput(); default 'ignore'
   * (a process reading stdin then sees EOF at once instead of waiting forever).
   */
  stdin?: 'pipe' | 'ignore';
}

/** Time a process gets to die after SIGKILL before stop() gives up. */
const KILL_WAIT_MS = 5000;

interface Waiter {
  re: RegExp;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

export class LabProcess {
  readonly pid: number;
  readonly process: SpawnSubprocess;
  readonly command: string;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  /** Settles when the process has exited and its output has been read. */
  readonly result: Promise<SpawnResult>;

  readonly #maxLines: number;
  readonly #waiters: Record<StreamName, Set<Waiter>> = { stdout: new Set(), stderr: new Set() };
  #ended = false;

  constructor(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.#maxLines = opts.maxLines ?? 10_000;
    this.command = `${cmd} ${args.join(' ')}`.trim();
    this.process = execa('ip', ['netns', 'exec', ns, cmd, ...args], {
      reject: false,
      buffer: false,
      stdin: opts.stdin ?? 'ignore',
      forceKillAfterDelay: false,
      cleanup: true,
    } satisfies ExecaSpawnOptions);
    if (this.process.pid === undefined) {
      // spawn() of `ip` itself failed; the result carries the reason.
      this.process.catch(() => undefined);
      throw new LabError('ERR_LAB_EXEC', `could not start ${this.command} in ${ns}`);
    }
    this.pid = this.process.pid;
    this.#follow('stdout', this.stdoutLines);
    this.#follow('stderr', this.stderrLines);
    this.result = this.process.then(
      (r) => this.#finish(r),
      (err: unknown) => {
        this.#finish(undefined);
        throw err;
      },
    );
    // stop() and waitForLine() observe the result; an unobserved rejection
    // here must not crash a test that never asked.
    this.result.catch(() => undefined);
  }

  /** True once the child has exited (exitCode or signalCode is set on 'exit'). */
  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  /**
   * Resolves with the first line on `stream` matching `re`, including lines
   * already received. Rejects with ETIMEDOUT after `timeoutMs`, or with
   * ERR_LAB_EXITED if the process ends first.
   */
  waitForLine(stream: StreamName, re: RegExp, timeoutMs: number): Promise<string> {
    const lines = stream === 'stdout' ? this.stdoutLines : this.stderrLines;
    const seen = lines.find((line) => re.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#ended) return Promise.reject(this.#exitedError(stream, re));
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = {
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters[stream].delete(waiter);
        reject(new LabError('ETIMEDOUT', `no ${stream} line matching ${re} from ${this.command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters[stream].add(waiter);
    });
  }

  /**
   * Sends `signal` to this PID, waits up to `timeoutMs`, then sends SIGKILL
   * and waits a little more. Resolves with how the process ended; rejects
   * with ETIMEDOUT only if even SIGKILL did not end it (e.g. stuck in D state).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<SpawnResult> {
    if (!this.exited) this.process.kill(signal);
    const first = await raceTimeout(this.result, timeoutMs);
    if (first.done) return first.value;
    if (!this.exited) this.process.kill('SIGKILL');
    const second = await raceTimeout(this.result, KILL_WAIT_MS);
    if (second.done) return second.value;
    throw new LabError('ETIMEDOUT', `${this.command} (pid ${this.pid}) survived SIGKILL for ${KILL_WAIT_MS} ms`);
  }

  /** Writes to the process's stdin; needs `stdin: 'pipe'` at spawn. */
  write(text: string): void {
    this.#stdin().write(text);
  }

  /** Closes the process's stdin (it reads EOF); needs `stdin: 'pipe'` at spawn. */
  endInput(): void {
    this.#stdin().end();
  }

  #stdin(): NonNullable<SpawnSubprocess['stdin']> {
    const stdin = this.process.stdin;
    if (stdin === null) throw new LabError('ERR_LAB_ARG', `${this.command} was spawned without stdin: 'pipe'`);
    // A process that died with input pending makes the pipe emit EPIPE; the
    // exit is reported through result, so the stream error is not news.
    if (stdin.listenerCount('error') === 0) stdin.on('error', () => undefined);
    return stdin;
  }

  /** For exit hooks: SIGKILL now, without waiting. */
  killNow(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }

  #follow(stream: StreamName, lines: string[]): void {
    const readable = this.process[stream];
    let partial = '';
    readable.setEncoding('utf8');
    readable.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) this.#push(stream, lines, part);
    });
    readable.on('end', () => {
      if (partial !== '') this.#push(stream, lines, partial);
      partial = '';
    });
  }

  #push(stream: StreamName, lines: string[], raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    lines.push(line);
    if (lines.length > this.#maxLines) lines.splice(0, lines.length - this.#maxLines);
    for (const waiter of this.#waiters[stream]) {
      if (waiter.re.test(line)) {
        this.#waiters[stream].delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  #finish<T>(value: T): T {
    this.#ended = true;
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const waiter of this.#waiters[stream]) waiter.reject(this.#exitedError(stream, waiter.re));
      this.#waiters[stream].clear();
    }
    return value;
  }

  #exitedError(stream: StreamName, re: RegExp): LabError {
    return new LabError('ERR_LAB_EXITED', `${this.command} (pid ${this.pid}) ended before a ${stream} line matched ${re}`);
  }
}
