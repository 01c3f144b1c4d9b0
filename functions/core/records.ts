/**
 * The profile's shared record, as the vendor sees it (`profile-record.ts` states its rules; the
 * {@link ProfileStore} keeps it, one item per profile). Every decision is: read, decide on the
 * pruned record, write it back on the condition that nothing changed since the read.
 *
 * Policy: the table is a cache. A read or write that fails is logged here and answered
 * `undefined`, and the vendor fails open (`refresh.ts`). Only the `DELETE` write reports failure:
 * a `DELETE` that did not reach the table must not answer success.
 */
import { randomUUID } from "node:crypto";
import { describeUnknown, UpstreamUnavailableError } from "./errors.js";
import type { DeletedRecord, Logger, ProfileStore, RecordRead, StoredToken } from "./ports.js";
import { type ProfileRecord, pruned, servableToken } from "./profile-record.js";
import type { CachedToken } from "./token.js";

/** The record of a profile, as read at `at` (epoch ms), pruned at that time. */
export interface Reading {
  readonly read: RecordRead;
  readonly record: ProfileRecord<StoredToken>;
  /** When the read was sent (epoch ms): what it shows was true no earlier. */
  readonly at: number;
  /** How long the read took (ms): longer than any AWS call can means a freeze. */
  readonly took: number;
}

/** Which life of the record a reading shows, as one comparable string. */
export function stampOf(record: ProfileRecord<unknown>): string {
  return `${record.incarnation ?? ""}/${record.epoch}`;
}

const DELETE_RETRY_AFTER_SECONDS = 2;

/** Reads and writes the profiles' records. One per function instance. */
export class SharedRecords {
  readonly store: ProfileStore;
  readonly #now: () => number;
  readonly #logger: Logger;

  constructor(store: ProfileStore, now: () => number, logger: Logger) {
    this.store = store;
    this.#now = now;
    this.#logger = logger;
  }

  /** A strongly consistent read; `undefined` when the table failed (logged). */
  async read(profile: string): Promise<Reading | undefined> {
    const at = this.#now();
    try {
      const read = await this.store.read(profile);
      const now = this.#now();
      return { read, record: pruned(read.record, now), at, took: now - at };
    } catch (error) {
      this.#warn(profile, "token table read failed; treating as a miss", error);
      return undefined;
    }
  }

  /**
   * Writes `next` iff the record is still the one `reading` saw. A record that had no item gets
   * a new incarnation here. `false`: lost a race; `undefined`: the table failed (logged).
   */
  async write(
    profile: string,
    reading: Reading,
    next: ProfileRecord<StoredToken>,
  ): Promise<boolean | undefined> {
    const born = next.incarnation === undefined ? { ...next, incarnation: randomUUID() } : next;
    try {
      return await this.store.write(profile, reading.read, born);
    } catch (error) {
      this.#warn(profile, "token table write failed; going on without it", error);
      return undefined;
    }
  }

  /**
   * The `DELETE` write: the next epoch, no token and no place.
   * @throws {UpstreamUnavailableError} when the table failed: the tokens may still be cached.
   */
  async delete(profile: string): Promise<DeletedRecord> {
    try {
      return await this.store.delete(profile, this.#now());
    } catch (error) {
      throw new UpstreamUnavailableError({
        dependency: "table",
        kind: "failed",
        detail: `token table delete failed: ${describeUnknown(error)}`,
        retryAfterSeconds: DELETE_RETRY_AFTER_SECONDS,
        cause: error,
      });
    }
  }

  /**
   * The set's token in `reading`, opened: of the record's epoch (expired or not: the caller
   * judges its lifetime and identity), and one that opens (its sealed stamp agreeing with the
   * record). A token that fails to open is logged.
   */
  async token(profile: string, reading: Reading, tag: string): Promise<CachedToken | undefined> {
    const entry = servableToken(reading.read.record, tag, Number.NEGATIVE_INFINITY);
    if (!entry) return undefined;
    try {
      return await entry.token.open();
    } catch (error) {
      this.#warn(profile, "token table entry could not be opened; treating as a miss", error);
      return undefined;
    }
  }

  /** When a fresh read showed `token` as the set's token; `undefined`: it did not (or failed). */
  async shownAt(profile: string, tag: string, token: CachedToken): Promise<number | undefined> {
    const reading = await this.read(profile);
    const shown = reading && (await this.token(profile, reading, tag));
    return shown?.accessToken === token.accessToken ? reading?.at : undefined;
  }

  // The AWS error's name and code only, never its message (which may quote an ARN or a key).
  #warn(profile: string, message: string, error: unknown): void {
    this.#logger.warn(message, { profile, reason: describeUnknown(error) });
  }
}
