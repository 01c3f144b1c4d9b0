/**
 * An in-memory ledger of issued tokens for core tests: the same promises as the DynamoDB one
 * (entries kept until their arrival-based expiry, a bound, forgetting), plus failures on demand.
 */
import type {
  IssuedTokenStore,
  LedgerEntry,
  LedgerRead,
  RememberedEntry,
} from "../../functions/core/ports.js";

/** The in-memory ledger; `capacity` is how many entries a profile may hold. */
export class MemoryIssuedTokens implements IssuedTokenStore {
  readonly #entries = new Map<string, RememberedEntry[]>();
  readonly #capacity: number;
  #nextId = 0;
  #liveGate: Promise<void> | undefined;
  /** Makes the next calls throw, as a failing table would. */
  failing = false;
  /** Runs before each `remember` answers (tests hold it to order it against a `DELETE`). */
  beforeRemember: (() => Promise<void>) | undefined;

  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  async remember(profile: string, entry: LedgerEntry, now: number): Promise<"remembered" | "full"> {
    this.#failIfAsked();
    await this.beforeRemember?.();
    const entries = this.#pruned(profile, now);
    if (entries.length >= this.#capacity) return "full";
    this.#nextId += 1;
    entries.push({ ...entry, id: `entry-${this.#nextId}` });
    return "remembered";
  }

  /** Holds the next `live` (a DELETE's read) until `release`, as a slow KMS would. */
  holdNextLive(): { release: () => void } {
    let release: () => void = () => {};
    this.#liveGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { release: () => release() };
  }

  async live(profile: string, now: number): Promise<LedgerRead> {
    this.#failIfAsked();
    const gate = this.#liveGate;
    this.#liveGate = undefined;
    // The entries as they are when the read is answered, not when it was asked.
    if (gate) await gate;
    return { entries: this.#pruned(profile, now).slice(), unopened: 0 };
  }

  async forget(profile: string, ids: readonly string[], now: number): Promise<void> {
    this.#failIfAsked();
    const kept = this.#pruned(profile, now).filter((entry) => !ids.includes(entry.id));
    this.#entries.set(profile, kept);
  }

  /** Every entry the profile's ledger holds, expired ones included (tests look inside). */
  entries(profile: string): readonly RememberedEntry[] {
    return this.#entries.get(profile) ?? [];
  }

  // An entry is kept until its own expiry: counted from when its token's answer arrived.
  #pruned(profile: string, now: number): RememberedEntry[] {
    const entries = (this.#entries.get(profile) ?? []).filter((entry) => entry.expiresAt > now);
    this.#entries.set(profile, entries);
    return entries;
  }

  #failIfAsked(): void {
    if (this.failing) throw new Error("ledger unavailable");
  }
}
