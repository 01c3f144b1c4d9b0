/**
 * The in-memory cache level: one entry per profile, confirmed against the table every
 * {@link MEMORY_RECHECK_MS}, and a generation fence that keeps work started before a `DELETE`
 * from putting the dropped token back.
 *
 * The fence is the one value the reasoning about a `DELETE` racing a refresh rests on: a refresh
 * takes a {@link Fence} before its first await and hands it back with everything it would
 * remember; `invalidate` moves the generation on, so every fence taken before it is stale and
 * what it carries is dropped.
 */
import type { ClientCredentials } from "./credentials.js";
import type { Clock } from "./ports.js";
import { MEMORY_RECHECK_MS } from "./timing.js";
import { type CachedToken, isUsable } from "./token.js";

/** What the memory holds for a profile. */
export interface MemoryEntry {
  readonly token: CachedToken;
  /** The credentials object the token's key was derived from; compared by identity on a hit. */
  readonly credentials: ClientCredentials;
  /** When the table last confirmed this entry (epoch ms). */
  readonly checkedAt: number;
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
   * derived from `current` credentials, the table confirmed it recently, and it stays valid for
   * the (capped) `minValiditySeconds`.
   */
  hit(
    profile: string,
    current: ClientCredentials | undefined,
    minValiditySeconds: number,
  ): CachedToken | undefined {
    const entry = this.#entries.get(profile);
    if (!entry) return undefined;
    const now = this.#clock.now();
    const recentlyChecked = now - entry.checkedAt < MEMORY_RECHECK_MS;
    return entry.credentials === current &&
      recentlyChecked &&
      isUsable(entry.token, now, minValiditySeconds)
      ? entry.token
      : undefined;
  }

  /** The entry held for `profile`, however old. */
  held(profile: string): MemoryEntry | undefined {
    return this.#entries.get(profile);
  }

  /** The fence to carry through work on `profile` that may end in {@link remember}. */
  fence(profile: string): Fence {
    return { profile, generation: this.#generations.get(profile) ?? 0 };
  }

  /** Whether no invalidation happened since the fence was taken. */
  isCurrent(fence: Fence): boolean {
    return (this.#generations.get(fence.profile) ?? 0) === fence.generation;
  }

  /** Holds `token` as confirmed now, unless the profile was invalidated since `fence`. */
  remember(fence: Fence, token: CachedToken, credentials: ClientCredentials): void {
    if (!this.isCurrent(fence)) return;
    this.#entries.set(fence.profile, { token, credentials, checkedAt: this.#clock.now() });
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
