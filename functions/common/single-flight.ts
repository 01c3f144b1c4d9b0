/**
 * Single flight: concurrent callers asking for the same key share one piece of work instead of
 * each starting their own. Used by the vending function (one refresh per profile per instance)
 * and by the client (one request per profile per process).
 */

/** Runs at most one piece of work per key at a time; later callers join the running one. */
export class SingleFlight<K, V> {
  readonly #running = new Map<K, Promise<V>>();

  /** The running work for `key`, or `work()` started now and shared until it settles. */
  run(key: K, work: () => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running) return running;
    const flight = work().finally(() => {
      if (this.#running.get(key) === flight) this.#running.delete(key);
    });
    this.#running.set(key, flight);
    return flight;
  }

  /** Whether work for `key` is running. */
  isRunning(key: K): boolean {
    return this.#running.has(key);
  }

  /** Lets the next {@link run} start new work even while the current one is still running. */
  forget(key: K): void {
    this.#running.delete(key);
  }
}
