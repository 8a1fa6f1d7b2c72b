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
 * unit at its start timeout. `vsock:` addresses (systemd 254 in VMs) are
 * not supported and said so once.
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

  private notify(lines: string[], attempt = 0): void {
    if (!this.enabled || this.address === undefined) return;
    const status = lines.find((l) => l.startsWith('STATUS='));
    if (status !== undefined && attempt === 0) this.lastStatus = status.slice('STATUS='.length);
    try {
      this.send(this.address, Buffer.from(lines.join('\n') + '\n'));
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'EAGAIN' && attempt < RETRIES && lines.some((l) => STATE_CHANGES.has(l))) {
        setTimeout(() => this.notify(lines, attempt + 1), RETRY_MS).unref();
        return;
      }
      const key = e.code ?? 'ERR_MCR_NOTIFY';
      if (this.warned.has(key)) return;
      this.warned.add(key);
      this.logger.warn({ code: key, err: e.message, notifySocket: this.address, sent: lines[0] },
        'could not notify systemd (NOTIFY_SOCKET): the service state may be wrong; logged once per error');
    }
  }
}
