/**
 * Waits on a control connection's socket.
 *
 * FrameTimer is the connection's frame timeout: a request frame must arrive
 * whole within `ms` of its first byte. mcrctl writes each frame at once, so
 * only a client trickling bytes (one a second, say) runs into it; without
 * it such a client would hold its place and its half frame until the idle
 * timeout. Two cases are not the client's fault and do not cut it: mcrd
 * having been busy (timers run before the poll phase reads sockets, so the
 * rest of the frame may be waiting unread: the check runs again after this
 * loop turn's reads, from setImmediate), and mcrd having paused reading for
 * back-pressure (the client gets its time again).
 *
 * drained() waits for a socket's unsent answers to go out.
 */
import type { Socket } from 'node:net';

export class FrameTimer {
  private timer: NodeJS.Timeout | null = null;

  /**
   * `partial` tells whether part of a frame is held now; `expired` is
   * called once when a frame stayed partial for `ms` while mcrd was reading.
   */
  constructor(
    private readonly ms: number,
    private readonly socket: Socket,
    private readonly partial: () => boolean,
    private readonly expired: () => void,
  ) {}

  /** After each chunk: `completed` whether it finished at least one frame. */
  update(completed: boolean): void {
    // A frame that began in this chunk after the last whole one gets its own time.
    if (completed) this.stop();
    if (this.timer === null && this.partial()) this.arm();
  }

  stop(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const timer: NodeJS.Timeout = setTimeout(() => setImmediate(() => this.check(timer)), this.ms);
    this.timer = timer;
  }

  private check(timer: NodeJS.Timeout): void {
    // Stopped, or a frame completed meanwhile and the timer was re-armed.
    if (this.timer !== timer) return;
    this.timer = null;
    if (!this.partial()) return;
    if (this.socket.isPaused()) {
      this.arm();
      return;
    }
    this.expired();
  }
}

/** Resolves true on 'drain', false if the socket closes or stays full for `ms` (a log stream nobody reads). */
export function drained(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}
