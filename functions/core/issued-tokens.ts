/**
 * The ledger of issued tokens: every token the service obtained for a profile that CyberArk can
 * revoke, remembered (sealed, in the token table) until it expires, so that a `DELETE` revokes
 * the tokens renewals replaced too, not only the one it dropped. Remembered tokens are read only
 * to be revoked: never served, never logged.
 *
 * Policy: like the table, the ledger never stands between a caller and a token. A token that could
 * not be remembered (the table failed, or the profile's ledger is full) is still served; the
 * warning says so, with the token's SHA-256 prefix, and that a `DELETE` cannot revoke it. A
 * `DELETE` that cannot read the ledger still revokes the tokens it dropped.
 */
import { describeUnknown } from "./errors.js";
import type { Clock, IdentityProvider, Logger } from "./ports.js";
import type { Profile } from "./profiles.js";
import type { ScopeSet } from "./scope-set.js";
import { type CachedToken, tokenFingerprint } from "./token.js";

/** A token the ledger remembers, with the entry that holds it. */
export interface RememberedToken {
  /** The ledger entry's id (no part of the token). */
  readonly id: string;
  /** The scope set the token was asked for. */
  readonly asked: ScopeSet;
  readonly token: CachedToken;
}

/** What became of a token the ledger was asked to remember. */
export type Remembered = "remembered" | "full";

/**
 * Where issued tokens are remembered (the token table). Expiry is the store's to enforce: it
 * answers only tokens alive at `now`, and drops expired entries when it writes.
 */
export interface IssuedTokenStore {
  /**
   * Remembers `token`, obtained for the `asked` scope set, until it expires.
   * @returns `full` when the profile's ledger is at its bound: the token is not remembered.
   */
  remember(profile: string, asked: ScopeSet, token: CachedToken, now: number): Promise<Remembered>;
  /**
   * Every remembered token of the profile still alive at `now`. Reading costs a bounded amount
   * whatever the ledger holds; entries found not to open are noted for the next `forget`.
   */
  live(profile: string, now: number): Promise<readonly RememberedToken[]>;
  /**
   * Forgets the entries `ids` (revoked tokens), any it knows to have expired at `now`, and any
   * its last `live` found not to open (junk would otherwise keep the ledger full).
   */
  forget(profile: string, ids: readonly string[], now: number): Promise<void>;
}

/** The ledger as the vendor sees it: failures are logged here, never thrown. */
export class IssuedTokens {
  readonly #store: IssuedTokenStore | undefined;
  readonly #identity: IdentityProvider;
  readonly #clock: Clock;
  readonly #logger: Logger;

  /** `store` absent: nothing is remembered (a `DELETE` revokes only what it dropped). */
  constructor(
    store: IssuedTokenStore | undefined,
    identity: IdentityProvider,
    clock: Clock,
    logger: Logger,
  ) {
    this.#store = store;
    this.#identity = identity;
    this.#clock = clock;
    this.#logger = logger;
  }

  /**
   * Remembers a token just obtained for the profile, if CyberArk can revoke the profile's tokens
   * (platform tokens cannot be revoked, so they are not kept). Never throws.
   */
  async remember(profile: Profile, asked: ScopeSet, token: CachedToken): Promise<void> {
    const store = this.#store;
    if (!store || !this.#revocable(profile)) return;
    const attributes = { profile: profile.name, tokenSha256: tokenFingerprint(token.accessToken) };
    try {
      const outcome = await store.remember(profile.name, asked, token, this.#clock.now());
      if (outcome === "full") {
        this.#logger.warn(
          "token ledger of the profile is full; a DELETE cannot revoke this token",
          attributes,
        );
      }
    } catch (error) {
      this.#logger.warn("token ledger write failed; a DELETE cannot revoke this token", {
        ...attributes,
        reason: describeUnknown(error),
      });
    }
  }

  /** The profile's remembered tokens still alive; none when the ledger cannot be read (logged). */
  async live(profile: Profile): Promise<readonly RememberedToken[]> {
    const store = this.#store;
    if (!store || !this.#revocable(profile)) return [];
    try {
      return await store.live(profile.name, this.#clock.now());
    } catch (error) {
      this.#logger.warn("token ledger read failed; revoking only the tokens the DELETE dropped", {
        profile: profile.name,
        reason: describeUnknown(error),
      });
      return [];
    }
  }

  /**
   * Forgets revoked entries (and expired ones, and ones that do not open), even when `ids` is
   * empty. Never throws: a failure only leaves them longer.
   */
  async forget(profile: Profile, ids: readonly string[]): Promise<void> {
    const store = this.#store;
    if (!store || !this.#revocable(profile)) return;
    try {
      await store.forget(profile.name, ids, this.#clock.now());
    } catch (error) {
      this.#logger.warn("token ledger cleanup failed; revoked entries stay until they expire", {
        profile: profile.name,
        reason: describeUnknown(error),
      });
    }
  }

  #revocable(profile: Profile): boolean {
    return this.#identity.endpoints(profile).revocation !== undefined;
  }
}
