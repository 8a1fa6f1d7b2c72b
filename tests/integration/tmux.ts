/**
 * A real terminal for the tests that need one (`mcrctl top`, Ctrl-C to a
 * foreground mcrd): tmux, on a private server (its own socket name, so no
 * other tmux is touched) that is killed when the test ends. Driven with
 * send-keys, read with capture-pane.
 */
import { execFileSync } from 'node:child_process';

/** Whether tmux is installed (Debian package tmux; .ci/run installs it). */
export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a private tmux server with one session `session` running `sh` in a
 * `cols`×`rows` terminal; returns a runner for tmux commands on that server.
 */
export function privateTmux(t: { teardown(fn: () => unknown): void }, name: string, session: string, cols = 160, rows = 40): (...args: string[]) => string {
  const server = `mcr-${name}-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', server, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
  tmux('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), 'sh');
  t.teardown(() => {
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
  });
  return tmux;
}
