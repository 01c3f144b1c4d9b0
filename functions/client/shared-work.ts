/**
 * Concurrent callers asking for the same key share one piece of work, each with its own
 * `AbortSignal`: a caller that gives up (its time out, its abort) stops waiting at once without
 * failing the others, and the work itself is cancelled only when every caller waiting for it has
 * given up. (The vending function's per-profile flight, `ProfileSlot.fly`, has no callers that
 * leave early.)
 */

interface Running<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  waiters: number;
}

/** At most one piece of work per key at a time; later callers join the running one. */
export class SharedWork<K, V> {
  readonly #running = new Map<K, Running<V>>();

  /**
   * The running work for `key`, or `work(signal)` started now; settles for this caller as the work
   * does, or rejects with `signal.reason` when `signal` fires first.
   */
  run(key: K, work: (signal: AbortSignal) => Promise<V>, signal: AbortSignal): Promise<V> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const running = this.#running.get(key) ?? this.#start(key, work);
    running.waiters += 1;
    return new Promise<V>((resolve, reject) => {
      const leave = () => {
        running.waiters -= 1;
        if (running.waiters > 0) return;
        running.controller.abort(signal.reason);
        this.forget(key, running);
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      running.promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /** Lets the next {@link run} of `key` start new work (the running one goes on for its callers). */
  forget(key: K, running?: Running<V>): void {
    if (running === undefined || this.#running.get(key) === running) this.#running.delete(key);
  }

  #start(key: K, work: (signal: AbortSignal) => Promise<V>): Running<V> {
    const controller = new AbortController();
    const running: Running<V> = {
      controller,
      waiters: 0,
      promise: work(controller.signal).finally(() => this.forget(key, running)),
    };
    // Every caller may have left already; the work's failure is then nobody's to handle.
    running.promise.catch(() => {});
    this.#running.set(key, running);
    return running;
  }
}
