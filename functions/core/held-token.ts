/**
 * The in-memory cache level of one profile slot (`profile-slot.ts`): the token the instance holds,
 * confirmed against the table every {@link MEMORY_RECHECK_MS}.
 *
 * Confirmation: a token is served from memory only until its next recheck is due. A recheck
 * that reads the table confirms it (or drops it); one that cannot read the table does **not**
 * confirm it: the held token is served meanwhile, the table is tried again after
 * {@link UNCONFIRMED_RETRY_MS}, and once {@link MAX_UNCONFIRMED_MS} have passed without a
 * confirmation it stops being served as a memory hit at all.
 *
 * A `DELETE` replaces the whole slot: work that began before it still holds the old slot, whose
 * `remember` finds the slot no longer current and keeps nothing. Identity is the fence.
 */
import type { ClientCredentials, Clock, TokenStamp } from "./ports.js";
import { MAX_UNCONFIRMED_MS, MEMORY_RECHECK_MS, UNCONFIRMED_RETRY_MS } from "./timing.js";
import { type CachedToken, isUsable } from "./token.js";

/** What the memory holds for a profile. */
export interface MemoryEntry {
  readonly token: CachedToken;
  /** The credentials object the token's key was derived from; compared by identity on a hit. */
  readonly credentials: ClientCredentials;
  /** When the table last confirmed this entry (epoch ms). */
  readonly confirmedAt: number;
  /** When the table must be asked again before the next memory hit (epoch ms). */
  readonly recheckAt: number;
  /** The record's life the token belongs to; absent when the table could not say. */
  readonly stamp?: TokenStamp;
}

/** The token one profile slot holds. */
export class HeldToken {
  readonly #clock: Clock;
  readonly #isCurrent: () => boolean;
  #entry: MemoryEntry | undefined;

  /** `isCurrent`: whether the slot is still the profile's (no `DELETE` replaced it). */
  constructor(clock: Clock, isCurrent: () => boolean) {
    this.#clock = clock;
    this.#isCurrent = isCurrent;
  }

  /**
   * The warm path: a Map lookup and a few comparisons, no I/O. A token is a hit when it was
   * derived from the `current` credentials object, no recheck is due, and it stays valid for the
   * (capped) `minValiditySeconds`.
   */
  hit(current: ClientCredentials | undefined, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#entry;
    if (!entry || entry.credentials !== current) return undefined;
    const now = this.#clock.now();
    return now < entry.recheckAt && isUsable(entry.token, now, minValiditySeconds)
      ? entry.token
      : undefined;
  }

  /** The entry held, however old. */
  held(): MemoryEntry | undefined {
    return this.#entry;
  }

  /**
   * The held token when CyberArk failed: of identity `cacheKey`, confirmed by the table within
   * {@link MAX_UNCONFIRMED_MS} (a token deleted elsewhere is not served for longer than that),
   * and valid for `minValiditySeconds`.
   */
  fallback(cacheKey: string, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#entry;
    const now = this.#clock.now();
    if (!entry || entry.token.cacheKey !== cacheKey) return undefined;
    if (now - entry.confirmedAt >= MAX_UNCONFIRMED_MS) return undefined;
    return isUsable(entry.token, now, minValiditySeconds) ? entry.token : undefined;
  }

  /**
   * Holds `token` (of the record's life `stamp`) as confirmed by the table at `confirmedAt`
   * (default now), unless a `DELETE` replaced the slot meanwhile.
   */
  remember(
    token: CachedToken,
    credentials: ClientCredentials,
    confirmedAt = this.#clock.now(),
    stamp?: TokenStamp,
  ): void {
    if (!this.#isCurrent()) return;
    const recheckAt = confirmedAt + MEMORY_RECHECK_MS;
    this.#entry = { token, credentials, confirmedAt, recheckAt, ...(stamp ? { stamp } : {}) };
  }

  /**
   * The table could not be read. Returns the held token when it may still be served unconfirmed
   * (within {@link MAX_UNCONFIRMED_MS} of its last confirmation, of identity `cacheKey`, valid for
   * `minValiditySeconds`), and schedules the next attempt; the confirmation time stays as it was.
   */
  unconfirmed(cacheKey: string, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#entry;
    const now = this.#clock.now();
    if (!entry || !this.#isCurrent() || entry.token.cacheKey !== cacheKey) return undefined;
    const servableUntil = entry.confirmedAt + MAX_UNCONFIRMED_MS;
    if (now >= servableUntil || !isUsable(entry.token, now, minValiditySeconds)) return undefined;
    this.#entry = { ...entry, recheckAt: Math.min(now + UNCONFIRMED_RETRY_MS, servableUntil) };
    return entry.token;
  }

  /** The table showed `accessToken`, held here, in a read sent at `at` (epoch ms). */
  confirm(accessToken: string, at: number): void {
    const entry = this.#entry;
    if (entry?.token.accessToken !== accessToken || at <= entry.confirmedAt) return;
    this.#entry = { ...entry, confirmedAt: at, recheckAt: at + MEMORY_RECHECK_MS };
  }

  /** Forgets the entry; work in flight may still remember a token while the slot is current. */
  drop(): void {
    this.#entry = undefined;
  }
}
