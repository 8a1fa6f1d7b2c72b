/**
 * A control connection that outlives mcrd's idle timeout: mcrd closes a
 * connection that sent nothing for 30 s (supervisor/control/connection.ts),
 * and the soak's own connections sit idle through long phases. A request
 * that finds the connection closed reconnects and is sent once more; any
 * other failure (an error answer, a timeout) is passed on as it is.
 */
import { ControlClient, type RequestOptions, type ResultFor } from '../../common/control-client.js';
import type { RequestDraft } from '../../proto/types.js';

export class ControlLink {
  #client: ControlClient | undefined;
  #connecting: Promise<ControlClient> | undefined;

  constructor(private readonly socket: string) {}

  async request<B extends RequestDraft>(body: B, options: RequestOptions = {}): Promise<ResultFor<B>> {
    const client = await this.#connected();
    try {
      return await client.request(body, options);
    } catch (err) {
      if (client.connected) throw err;
      // The connection went away (mcrd's idle close): once more on a fresh one.
      if (this.#client === client) this.#client = undefined;
      return (await this.#connected()).request(body, options);
    }
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  async #connected(): Promise<ControlClient> {
    if (this.#client?.connected === true) return this.#client;
    this.#client?.close();
    this.#client = undefined;
    this.#connecting ??= (async () => {
      const c = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 15_000 });
      try {
        await c.connect(this.socket);
        this.#client = c;
        return c;
      } finally {
        this.#connecting = undefined;
      }
    })();
    return this.#connecting;
  }
}
