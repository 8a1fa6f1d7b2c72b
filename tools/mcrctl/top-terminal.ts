/**
 * The terminal side of `mcrctl top`: takes the screen (alternate screen,
 * cursor hidden, keys read raw, one at a time), draws frames over it, and
 * gives it back exactly as it was, however top ends: `q`, Ctrl-C (a byte
 * in raw mode, not a signal), SIGINT or SIGTERM from outside, an error, or
 * the process exiting (the 'exit' hook is the last resort). restore() is
 * idempotent, so every one of those paths may call it.
 */

/** What the screen needs of the process's stdin and stdout (tty.ReadStream, tty.WriteStream). */
export interface TerminalStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  stdout: NodeJS.WritableStream & { columns?: number; rows?: number };
}

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

export class Screen {
  private active = false;
  private readonly onData = (chunk: Buffer | string): void => {
    for (const ch of String(chunk)) this.onKey(ch);
  };
  private readonly onExit = (): void => this.restore();

  constructor(private readonly t: TerminalStreams, private readonly onKey: (key: string) => void) {}

  get width(): number {
    return this.t.stdout.columns ?? 80;
  }

  get height(): number {
    return this.t.stdout.rows ?? 24;
  }

  enter(): void {
    if (this.active) return;
    this.active = true;
    process.once('exit', this.onExit);
    this.t.stdout.write(ENTER);
    this.t.stdin.setRawMode?.(true);
    this.t.stdin.on('data', this.onData);
    this.t.stdin.resume();
  }

  /** Draws the lines from the top-left corner, clearing what the last frame left beyond them. */
  draw(lines: readonly string[]): void {
    if (!this.active) return;
    this.t.stdout.write(HOME + lines.map((l) => l + CLEAR_LINE).join('\r\n') + CLEAR_LINE + CLEAR_BELOW);
  }

  restore(): void {
    if (!this.active) return;
    this.active = false;
    process.off('exit', this.onExit);
    this.t.stdin.off('data', this.onData);
    this.t.stdin.setRawMode?.(false);
    this.t.stdin.pause();
    this.t.stdout.write(LEAVE);
  }
}
