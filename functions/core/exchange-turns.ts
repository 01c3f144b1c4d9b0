/**
 * One exchange with CyberArk per profile at a time within the instance, whatever started it: a
 * request's miss, a renewal ahead of need, or a scheduled renewal. The refresh lease does this
 * across instances, but while it fails open (the table cannot be written) a renewal holding the
 * real lease and a request refreshing without one could otherwise ask at once. A second caller
 * waits for the exchange under way to end (its token written, or not), then reads the table.
 */
export class ExchangeTurns {
  readonly #running = new Map<string, Promise<void>>();

  /** The profile's exchange under way, as a promise that settles (never rejects) when it ends. */
  running(profile: string): Promise<void> | undefined {
    return this.#running.get(profile);
  }

  /** Runs `exchange` as the profile's turn. Call it right after {@link running} found none. */
  run<T>(profile: string, exchange: () => Promise<T>): Promise<T> {
    const result = exchange();
    const ended = result.then(
      () => {},
      () => {},
    );
    this.#running.set(profile, ended);
    void ended.then(() => {
      if (this.#running.get(profile) === ended) this.#running.delete(profile);
    });
    return result;
  }
}
