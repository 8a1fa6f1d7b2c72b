/**
 * Reads mcrd's log (its stdout, pino JSON, which carries the workers'
 * lines too) and its stderr for what must never happen: an unhandled
 * promise rejection, an uncaught exception, a fatal line. Also tallies the
 * worker exits mcrd logged, by cause, so the report can tell the soak's own
 * kills and the watchdog's from a worker that died by itself.
 */

export interface LogVerdict {
  lines: number;
  /** Lines that fail the soak (unhandled rejection, uncaught exception, fatal, a crash on stderr). */
  bad: string[];
  /** "SIGKILL" / "code 1" / ... → number of worker exits mcrd logged with it. */
  workerExits: Record<string, number>;
  /** Worker exits with a status other than a signal (a worker that ended itself). */
  unexpectedExits: string[];
  /** Lines at level warn or above, by message, for the report. */
  warnings: Record<string, number>;
  /** The first lines at level warn or above, as logged (evidence for the report). */
  warnLines: string[];
}

const MAX_WARN_LINES = 300;
const BAD = /unhandled ?rejection|uncaught ?exception|UnhandledPromiseRejection|ERR_UNHANDLED_REJECTION/i;

export function checkLogs(stdout: readonly string[], stderr: readonly string[]): LogVerdict {
  const v: LogVerdict = { lines: stdout.length, bad: [], workerExits: {}, unexpectedExits: [], warnings: {}, warnLines: [] };
  for (const line of stdout) {
    let j: { level?: number; msg?: string; signal?: string | null; code?: number | string | null; worker?: string } | undefined;
    try {
      j = JSON.parse(line) as typeof j;
    } catch {
      j = undefined;
    }
    if (BAD.test(line) || (j?.level ?? 0) >= 60) v.bad.push(line.slice(0, 500));
    if (j === undefined) continue;
    if ((j.level ?? 0) >= 40 && j.msg !== undefined) {
      v.warnings[j.msg] = (v.warnings[j.msg] ?? 0) + 1;
      if (v.warnLines.length < MAX_WARN_LINES) v.warnLines.push(line.slice(0, 1000));
    }
    if (j.msg !== undefined && /^worker exited/.test(j.msg)) {
      const how = j.signal ? String(j.signal) : `code ${String(j.code)}`;
      v.workerExits[how] = (v.workerExits[how] ?? 0) + 1;
      if (!j.signal) v.unexpectedExits.push(line.slice(0, 500));
    }
  }
  for (const line of stderr) if (line.trim() !== '' && (BAD.test(line) || /Error|exception|rejection/i.test(line))) v.bad.push(`stderr: ${line.slice(0, 500)}`);
  return v;
}
