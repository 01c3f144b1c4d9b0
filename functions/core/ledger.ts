/**
 * The ledger of issued tokens, and revocation at CyberArk after a `DELETE`.
 *
 * Every token obtained for a profile CyberArk can revoke (custom OAuth2 apps) is remembered BEFORE
 * its conditional write, with the (incarnation, epoch) its writer read and an expiry counted from
 * when the answer ARRIVED (errs long). A `DELETE` that moved the epoch from e to e+1 reads the
 * ledger after its write and revokes the live entries of epoch <= e, or of an older incarnation
 * (`deletion.ts`). Remembered after that read, a token's write comes after the epoch moved and is
 * refused: its writer revokes it ({@link Ledger.revokeRaced}). Tokens of e+1 are not its business.
 *
 * Policy: the ledger never stands between a caller and a token (one not remembered is served,
 * with a warning), and a failed revocation is logged, tried once more, and never fails a `DELETE`.
 */
import { describeUnknown, logReason, UpstreamUnavailableError } from "./errors.js";
import type {
  IdentityProvider,
  IssuedTokenStore,
  LedgerEntry,
  LedgerRead,
  Logger,
  RememberedEntry,
} from "./ports.js";
import type { Profile } from "./profiles.js";
import type { DeleteFound, Revoked, SkipReason } from "./revocation-rule.js";
import { type CachedToken, tokenFingerprint } from "./token.js";

export { type DeleteFound, type Revoked, revocable, type SkipReason } from "./revocation-rule.js";

const ATTEMPTS = 2;

/** Credentials to revoke with: the profile's current ones. */
export type RevokingCredentials = () => Promise<{ clientId: string; clientSecret: string }>;

/** Remembers and revokes the tokens of profiles. One per function instance. */
export class Ledger {
  readonly #store: IssuedTokenStore | undefined;
  readonly #identity: IdentityProvider;
  readonly #now: () => number;
  readonly #logger: Logger;

  /** `store` absent: nothing is remembered (a `DELETE` revokes only what it drops). */
  constructor(
    store: IssuedTokenStore | undefined,
    identity: IdentityProvider,
    now: () => number,
    logger: Logger,
  ) {
    this.#store = store;
    this.#identity = identity;
    this.#now = now;
    this.#logger = logger;
  }

  /** Remembers a token just obtained, before its write. Never throws. */
  async remember(profile: Profile, entry: LedgerEntry): Promise<void> {
    const store = this.#store;
    if (!store || !this.#endpoint(profile)) return;
    const attributes = {
      profile: profile.name,
      tokenSha256: tokenFingerprint(entry.token.accessToken),
    };
    try {
      if ((await store.remember(profile.name, entry, this.#now())) === "full") {
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

  /**
   * After a `DELETE` (`deletion.ts`): revokes `found.tokens` (dropped, held) and the entries of the
   * ledger it `read` that its `judge` revokes; then the ledger forgets the revoked ones.
   * Never throws.
   */
  async revokeAfterDelete(
    profile: Profile,
    found: DeleteFound,
    credentials: RevokingCredentials,
  ): Promise<Revoked> {
    const endpoint = this.#endpoint(profile);
    if (endpoint === undefined) return { revoked: "false" };
    const skipped = new Map<SkipReason, number>();
    const skip = (reason: SkipReason, count = 1) =>
      count > 0 && skipped.set(reason, (skipped.get(reason) ?? 0) + count);
    if (found.read === undefined) skip("failed");
    const ledger = found.read ?? { entries: [], unopened: 0 };
    skip("unopened", ledger.unopened);
    skip("past-bound", ledger.pastBound ?? 0);
    for (const reason of found.skipped) skip(reason);
    const byToken = new Map<string, RememberedEntry[]>();
    for (const token of found.tokens) byToken.set(token.accessToken, []);
    for (const entry of ledger.entries) {
      const verdict = found.judge(entry);
      const key = entry.token.accessToken;
      if (verdict === true) byToken.set(key, [...(byToken.get(key) ?? []), entry]);
      else skip(verdict);
    }
    const tokens = [...byToken.keys()];
    const fingerprints = tokens.map(tokenFingerprint);
    // One secret read for them all; a failure is left to each revocation to report and retry.
    if (tokens.length > 0) await credentials().catch(() => undefined);
    const results = await Promise.all(
      tokens.map((token, i) =>
        this.#revokeOne(profile, endpoint, token, fingerprints[i], credentials),
      ),
    );
    skip("failed", results.filter((ok) => !ok).length);
    const forgotten = tokens.flatMap((token, i) => (results[i] ? (byToken.get(token) ?? []) : []));
    await this.#forget(
      profile,
      forgotten.map((e) => e.id),
    );
    const unrevoked = (["unopened", "past-bound", "failed"] as const).some((r) => skipped.has(r));
    const revokedCount = results.filter(Boolean).length;
    const reasons = [...skipped].map(([reason, count]) => `${reason}=${count}`).join(",");
    return {
      revoked: unrevoked ? "failed" : revokedCount > 0 ? "true" : "false",
      ...(tokens.length > 0 ? { tokenSha256: fingerprints.join(",") } : {}),
      revokedCount,
      ...(reasons ? { skipped: reasons } : {}),
    };
  }

  /**
   * Revokes one token whose write a `DELETE` refused (it stays in the ledger, so a failure is
   * tried again by the next `DELETE`). Never throws.
   */
  async revokeRaced(
    profile: Profile,
    token: CachedToken,
    credentials: RevokingCredentials,
  ): Promise<boolean> {
    const endpoint = this.#endpoint(profile);
    if (endpoint === undefined) return false;
    const { accessToken } = token;
    return this.#revokeOne(
      profile,
      endpoint,
      accessToken,
      tokenFingerprint(accessToken),
      credentials,
    );
  }

  /** Whether the profile's tokens can be revoked (a custom OAuth2 app's, at CyberArk). */
  revocable(profile: Profile): boolean {
    return this.#endpoint(profile) !== undefined;
  }

  #endpoint(profile: Profile): string | undefined {
    return this.#identity.endpoints(profile).revocation;
  }

  /** The ledger as read after a `DELETE`'s write; `undefined` when it could not be read (logged). */
  async read(profile: Profile): Promise<LedgerRead | undefined> {
    if (!this.#store) return { entries: [], unopened: 0 };
    try {
      return await this.#store.live(profile.name, this.#now());
    } catch (error) {
      this.#logger.warn("token ledger read failed; revoking only the tokens the DELETE dropped", {
        profile: profile.name,
        reason: describeUnknown(error),
      });
      return undefined;
    }
  }

  async #forget(profile: Profile, ids: readonly string[]): Promise<void> {
    try {
      await this.#store?.forget(profile.name, ids, this.#now());
    } catch (error) {
      this.#logger.warn("token ledger cleanup failed; revoked entries stay until they expire", {
        profile: profile.name,
        reason: describeUnknown(error),
      });
    }
  }

  async #revokeOne(
    profile: Profile,
    endpoint: string,
    token: string,
    fingerprint: string | undefined,
    credentials: RevokingCredentials,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      try {
        const { clientId, clientSecret } = await credentials();
        const { clientAuth } = profile;
        await this.#identity.revokeToken({ endpoint, clientAuth, clientId, clientSecret, token });
        return true;
      } catch (error) {
        // A tenant that asked for a back-off is not asked again at once.
        const backingOff = error instanceof UpstreamUnavailableError && error.backOffSeconds;
        const last = attempt === ATTEMPTS || Boolean(backingOff);
        this.#logger.warn(
          last ? "token revocation failed" : "token revocation failed; retrying once",
          {
            profile: profile.name,
            tokenSha256: fingerprint,
            reason: logReason(error),
          },
        );
        if (last) break;
      }
    }
    return false;
  }
}
