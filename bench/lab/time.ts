/**
 * Bounded waiting: every wait in the lab goes through here so none can hang.
 *
 * The timer is cleared as soon as the awaited promise settles, so a finished
 * wait never keeps the event loop alive.
 */

export type Raced<T> = { done: true; value: T } | { done: false };

/** Waits for `promise` at most `ms` milliseconds; rejections pass through. */
export async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<Raced<T>> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<Raced<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value): Raced<T> => ({ done: true, value })), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves like `promise`, or rejects naming `what` if it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const r = await raceTimeout(promise, ms);
  if (!r.done) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  return r.value;
}

/** Checks `ok` every `everyMs` until it answers true or `ms` have passed; resolves with its last answer. */
export async function pollUntil(ok: () => Promise<boolean>, ms: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await ok()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
