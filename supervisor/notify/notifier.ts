/**
 * The systemd notify protocol (sd_notify(3)), spoken by mcrd itself: one
 * datagram of `KEY=value` lines to the unix socket named by $NOTIFY_SOCKET
 * (a path, or an abstract name starting with '@'), sent through the addon
 * (Node has no unix datagram socket; mcrd does not link libsystemd).
 *
 * Without $NOTIFY_SOCKET (not started by systemd as Type=notify, or by a
 * test) every call is a no-op. The variable is removed from mcrd's
 * environment as soon as it is read, so no child (a worker, `tc`, `ip`)
 * inherits it: only mcrd tells systemd anything. A failed send is logged
 * once per kind of error and never stops mcrd (systemd may be gone); a
 * state change (READY=1, RELOADING=1, STOPPING=1) that meets a full queue
 * (EAGAIN: the send does not block, where sd_notify would) is sent again
 * every RETRY_MS for up to RETRIES times, since a lost READY=1 fails the
 * unit at its start timeout; state changes made meanwhile wait behind it,
 * so systemd sees them in the order mcrd made them (a RELOADING=1 retried
 * after the READY=1 that ended the reload would leave the unit
 * "reloading"). `vsock:` addresses (systemd 254 in VMs) are not supported
 * and said so once.
 */
import type { Logger } from 'pino';

/** Sends one datagram; throws an errno-shaped error. Production: native.sendUnixDatagram. */
export type SendDatagram = (address: string, data: Buffer) => void;

/** The monotonic clock in microseconds, as systemd reads CLOCK_MONOTONIC (process.hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** Lines that change the unit's state in systemd: worth sending again. */
const STATE_CHANGES = new Set(['READY=1', 'RELOADING=1', 'STOPPING=1']);
/** A state change that met a full queue is sent again this often, this many times (5 s in all). */
export const RETRY_MS = 50;
export const RETRIES = 100;

export class Notifier {
  private readonly warned = new Set<string>();
  private lastStatus: string | undefined;
  /** State changes a full queue refused, oldest first, with the retries each has had. */
  private readonly waiting: Array<{ lines: string[]; retries: number }> = [];

  private constructor(readonly address: string | undefined, private readonly send: SendDatagram, private readonly logger: Logger,
    private readonly clock: () => bigint) {}

  /**
   * Reads $NOTIFY_SOCKET from `env` and deletes it there (children must not
   * notify). An empty value counts as unset, as in sd_notify.
   */
  static fromEnv(env: NodeJS.ProcessEnv, send: SendDatagram, logger: Logger, clock: () => bigint = monotonicUsec): Notifier {
    const address = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    const n = new Notifier(address === undefined || address === '' ? undefined : address, send, logger, clock);
    if (n.address?.startsWith('vsock:') === true) {
      logger.warn({ code: 'EAFNOSUPPORT', notifySocket: n.address }, 'NOTIFY_SOCKET is a vsock address, which mcrd does not support: no readiness is reported');
    }
    return n;
  }

  get enabled(): boolean {
    return this.address !== undefined && !this.address.startsWith('vsock:');
  }

  /** The configuration is loaded and every worker forwards. */
  ready(status?: string): void {
    this.notify(['READY=1', ...(status !== undefined ? [`STATUS=${status}`] : [])]);
  }

  /** A reload begins: systemd wants the monotonic time with it (systemd.service(5), Type=notify-reload). */
  reloading(): void {
    this.notify(['RELOADING=1', `MONOTONIC_USEC=${this.clock()}`, 'STATUS=reloading the configuration']);
  }

  stopping(): void {
    this.notify(['STOPPING=1', 'STATUS=stopping: draining workers']);
  }

  /** A free-form status line for `systemctl status`; unchanged lines are not sent again. */
  status(text: string): void {
    if (text === this.lastStatus) return;
    this.notify([`STATUS=${text}`]);
  }

  private notify(lines: string[]): void {
    if (!this.enabled || this.address === undefined) return;
    const status = lines.find((l) => l.startsWith('STATUS='));
    if (status !== undefined) this.lastStatus = status.slice('STATUS='.length);
    const stateChange = lines.some((l) => STATE_CHANGES.has(l));
    if (stateChange && this.waiting.length > 0) {
      this.waiting.push({ lines, retries: 0 });
      return;
    }
    const err = this.trySend(this.address, lines);
    if (err === undefined) return;
    if (err.code === 'EAGAIN' && stateChange) {
      this.waiting.push({ lines, retries: 0 });
      this.retryLater();
      return;
    }
    this.warnOnce(err, lines);
  }

  /** Sends the waiting state changes in order, up to the first the queue still refuses. */
  private sendWaiting(address: string): void {
    let olderStatus = false;
    for (let head = this.waiting[0]; head !== undefined; head = this.waiting[0]) {
      const err = this.trySend(address, head.lines);
      if (err?.code === 'EAGAIN' && ++head.retries < RETRIES) {
        this.retryLater();
        return;
      }
      this.waiting.shift();
      if (err !== undefined) this.warnOnce(err, head.lines);
      const status = head.lines.find((l) => l.startsWith('STATUS='));
      if (err === undefined && status !== undefined && status.slice('STATUS='.length) !== this.lastStatus) olderStatus = true;
    }
    // A status line sent while these waited is older news now than theirs:
    // say the latest again, or `systemctl status` keeps the older line.
    if (olderStatus && this.lastStatus !== undefined) this.trySend(address, [`STATUS=${this.lastStatus}`]);
  }

  private retryLater(): void {
    const address = this.address;
    if (address !== undefined) setTimeout(() => this.sendWaiting(address), RETRY_MS).unref();
  }

  private trySend(address: string, lines: string[]): (Error & { code?: string }) | undefined {
    try {
      this.send(address, Buffer.from(lines.join('\n') + '\n'));
      return undefined;
    } catch (err) {
      return err as Error & { code?: string };
    }
  }

  private warnOnce(e: Error & { code?: string }, lines: string[]): void {
    const key = e.code ?? 'ERR_MCR_NOTIFY';
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn({ code: key, err: e.message, notifySocket: this.address, sent: lines[0] },
      'could not notify systemd (NOTIFY_SOCKET): the service state may be wrong; logged once per error');
  }
}
