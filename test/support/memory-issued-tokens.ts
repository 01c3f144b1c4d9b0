/**
 * An in-memory ledger of issued tokens for core tests: the same promises as the DynamoDB one
 * (alive tokens only, a bound, forgetting), plus failures on demand.
 */
import type {
  IssuedTokenStore,
  Remembered,
  RememberedToken,
} from "../../functions/core/issued-tokens.js";
import type { ScopeSet } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";

/** The in-memory ledger; `capacity` is how many entries a profile may hold. */
export class MemoryIssuedTokens implements IssuedTokenStore {
  readonly #entries = new Map<string, RememberedToken[]>();
  readonly #capacity: number;
  #nextId = 0;
  /** Makes the next calls throw, as a failing table would. */
  failing = false;

  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  async remember(
    profile: string,
    asked: ScopeSet,
    token: CachedToken,
    now: number,
  ): Promise<Remembered> {
    this.#failIfAsked();
    const entries = this.#pruned(profile, now);
    if (entries.length >= this.#capacity) return "full";
    this.#nextId += 1;
    entries.push({ id: `entry-${this.#nextId}`, asked, token });
    return "remembered";
  }

  async live(profile: string, now: number): Promise<readonly RememberedToken[]> {
    this.#failIfAsked();
    return this.#pruned(profile, now).slice();
  }

  async forget(profile: string, ids: readonly string[], now: number): Promise<void> {
    this.#failIfAsked();
    const kept = this.#pruned(profile, now).filter((entry) => !ids.includes(entry.id));
    this.#entries.set(profile, kept);
  }

  /** Every entry the profile's ledger holds, expired ones included (tests look inside). */
  entries(profile: string): readonly RememberedToken[] {
    return this.#entries.get(profile) ?? [];
  }

  #pruned(profile: string, now: number): RememberedToken[] {
    const entries = (this.#entries.get(profile) ?? []).filter(
      (entry) => entry.token.expiresAt > now,
    );
    this.#entries.set(profile, entries);
    return entries;
  }

  #failIfAsked(): void {
    if (this.failing) throw new Error("ledger unavailable");
  }
}
