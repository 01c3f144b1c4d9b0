/**
 * The in-memory cache level: one entry per profile, confirmed against the table every
 * {@link MEMORY_RECHECK_MS}, and a generation fence that keeps work started before a `DELETE`
 * from putting the dropped token back.
 *
 * Confirmation: an entry is served from memory only until its next recheck is due. A recheck
 * that reads the table confirms it (or drops it); one that cannot read the table does **not**
 * confirm it: the held token is served meanwhile, the table is tried again after
 * {@link UNCONFIRMED_RETRY_MS}, and once {@link MAX_UNCONFIRMED_MS} have passed without a
 * confirmation the entry stops being served as a memory hit at all.
 *
 * The fence is the one value the reasoning about a `DELETE` racing a refresh rests on: a refresh
 * takes a {@link Fence} before its first await and hands it back with everything it would
 * remember; `invalidate` moves the generation on, so every fence taken before it is stale and
 * what it carries is dropped.
 */
import type { ClientCredentials } from "./credentials.js";
import type { Clock } from "./ports.js";
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
}

/** A profile's generation when some work began; stale once the profile is invalidated. */
export interface Fence {
  readonly profile: string;
  readonly generation: number;
}

/** Tokens held in this instance's memory. */
export class MemoryCache {
  readonly #clock: Clock;
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #generations = new Map<string, number>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * The warm path: a Map lookup and a few comparisons, no I/O. A token is a hit when it was
   * derived from the `current` credentials object, no recheck is due, and it stays valid for the
   * (capped) `minValiditySeconds`.
   */
  hit(
    profile: string,
    current: ClientCredentials | undefined,
    minValiditySeconds: number,
  ): CachedToken | undefined {
    const entry = this.#entries.get(profile);
    if (!entry || entry.credentials !== current) return undefined;
    const now = this.#clock.now();
    return now < entry.recheckAt && isUsable(entry.token, now, minValiditySeconds)
      ? entry.token
      : undefined;
  }

  /** The entry held for `profile`, however old. */
  held(profile: string): MemoryEntry | undefined {
    return this.#entries.get(profile);
  }

  /**
   * The held token when CyberArk failed: of identity `cacheKey`, confirmed by the table within
   * {@link MAX_UNCONFIRMED_MS} (a token deleted elsewhere is not served for longer than that),
   * and valid for `minValiditySeconds`.
   */
  fallback(profile: string, cacheKey: string, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#entries.get(profile);
    const now = this.#clock.now();
    if (!entry || entry.token.cacheKey !== cacheKey) return undefined;
    if (now - entry.confirmedAt >= MAX_UNCONFIRMED_MS) return undefined;
    return isUsable(entry.token, now, minValiditySeconds) ? entry.token : undefined;
  }

  /** The fence to carry through work on `profile` that may end in {@link remember}. */
  fence(profile: string): Fence {
    return { profile, generation: this.#generations.get(profile) ?? 0 };
  }

  /** Whether no invalidation happened since the fence was taken. */
  isCurrent(fence: Fence): boolean {
    return (this.#generations.get(fence.profile) ?? 0) === fence.generation;
  }

  /**
   * Holds `token` as confirmed by the table at `confirmedAt` (default now), unless the profile
   * was invalidated since `fence`.
   */
  remember(
    fence: Fence,
    token: CachedToken,
    credentials: ClientCredentials,
    confirmedAt = this.#clock.now(),
  ): void {
    if (!this.isCurrent(fence)) return;
    this.#entries.set(fence.profile, {
      token,
      credentials,
      confirmedAt,
      recheckAt: confirmedAt + MEMORY_RECHECK_MS,
    });
  }

  /**
   * The table could not be read. Returns the held token when it may still be served unconfirmed
   * (within {@link MAX_UNCONFIRMED_MS} of its last confirmation, of identity `cacheKey`, valid for
   * `minValiditySeconds`), and schedules the next attempt; the confirmation time stays as it was.
   */
  unconfirmed(fence: Fence, cacheKey: string, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#entries.get(fence.profile);
    const now = this.#clock.now();
    if (!entry || !this.isCurrent(fence) || entry.token.cacheKey !== cacheKey) return undefined;
    const servableUntil = entry.confirmedAt + MAX_UNCONFIRMED_MS;
    if (now >= servableUntil || !isUsable(entry.token, now, minValiditySeconds)) return undefined;
    this.#entries.set(fence.profile, {
      ...entry,
      recheckAt: Math.min(now + UNCONFIRMED_RETRY_MS, servableUntil),
    });
    return entry.token;
  }

  /** Forgets the entry; work in flight may still remember a token. */
  drop(profile: string): void {
    this.#entries.delete(profile);
  }

  /** Forgets the entry and makes every fence taken so far stale. */
  invalidate(profile: string): void {
    this.#generations.set(profile, (this.#generations.get(profile) ?? 0) + 1);
    this.#entries.delete(profile);
  }
}
