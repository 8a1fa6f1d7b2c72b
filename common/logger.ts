/**
 * Process logger: pino JSON lines on stderr (stdout is reserved for the
 * relay's machine-readable output), written synchronously so nothing is lost
 * when the process exits right after a line.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function createLogger(level: LevelWithSilent, bindings: Record<string, unknown> = {}, fd: 1 | 2 = 2): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd, sync: true }));
}
