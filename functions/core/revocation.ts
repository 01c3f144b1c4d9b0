/**
 * Revocation at CyberArk after a `DELETE`: a leaked copy of a token stops working at once, not
 * when it expires. Every token the service obtained for the profile that is still alive is
 * revoked: the ones the `DELETE` dropped (from the table, from this instance's memory) and every
 * one the ledger remembers (`issued-tokens.ts`), renewals' predecessors included; each once,
 * all at once, so the `DELETE` takes one revocation's time however many there are. Only for
 * profiles the identity provider names a revocation endpoint for (at CyberArk, custom OAuth2
 * apps; platform tokens have none documented). A revocation that fails is logged with the token's
 * SHA-256 prefix and CyberArk's error and tried once more; it never fails the `DELETE`: the cache
 * is dropped either way, and the log says which tokens may still be alive. Revoked tokens are then
 * forgotten by the ledger; one whose revocation failed stays, for the next `DELETE`.
 */
import { logReason, UpstreamUnavailableError } from "./errors.js";
import type { IssuedTokens } from "./issued-tokens.js";
import type { IdentityProvider, Logger } from "./ports.js";
import type { ProfileSlots } from "./profile-slots.js";
import type { Profile } from "./profiles.js";
import { type CachedToken, tokenFingerprint } from "./token.js";

/** What a `DELETE` did at CyberArk, for its audit line. */
export interface Revoked {
  /** `true`: every live token was revoked; `false`: none to revoke; `failed`: see the log. */
  readonly revoked: "true" | "false" | "failed";
  /** SHA-256 prefixes of the tokens revoked or tried, comma-separated; never a token. */
  readonly tokenSha256?: string;
}

const ATTEMPTS = 2;

/** Revokes the tokens of a profile. One per function instance. */
export class TokenRevocation {
  readonly #slots: ProfileSlots;
  readonly #identity: IdentityProvider;
  readonly #logger: Logger;
  readonly #issued: IssuedTokens;

  constructor(
    slots: ProfileSlots,
    identity: IdentityProvider,
    logger: Logger,
    issued: IssuedTokens,
  ) {
    this.#slots = slots;
    this.#identity = identity;
    this.#logger = logger;
    this.#issued = issued;
  }

  /**
   * Revokes each distinct token of `dropped` and of the ledger with the profile's credentials,
   * then has the ledger forget the revoked ones. Never throws.
   */
  async revoke(profile: Profile, dropped: readonly (CachedToken | undefined)[]): Promise<Revoked> {
    const endpoint = this.#identity.endpoints(profile).revocation;
    if (endpoint === undefined) return { revoked: "false" };
    const remembered = await this.#issued.live(profile);
    const tokens = [
      ...new Set([
        ...dropped.flatMap((token) => (token ? [token.accessToken] : [])),
        ...remembered.map((entry) => entry.token.accessToken),
      ]),
    ];
    if (tokens.length === 0) {
      // Nothing to revoke, but the ledger may hold entries that do not open: let it drop them.
      await this.#issued.forget(profile, []);
      return { revoked: "false" };
    }
    // One secret read for them all (the DELETE's new slot holds none yet); a failure is left to
    // each revocation to report and retry.
    await this.#slots
      .generation(profile)
      .credentials.get()
      .catch(() => undefined);
    const fingerprints = tokens.map(tokenFingerprint);
    const results = await Promise.all(
      tokens.map((token, index) => this.#revokeOne(profile, endpoint, token, fingerprints[index])),
    );
    const revoked = new Set(tokens.filter((_, index) => results[index]));
    const forgotten = remembered.filter((entry) => revoked.has(entry.token.accessToken));
    await this.#issued.forget(
      profile,
      forgotten.map((entry) => entry.id),
    );
    return {
      revoked: results.every(Boolean) ? "true" : "failed",
      tokenSha256: fingerprints.join(","),
    };
  }

  /** Whether the profile's tokens can be revoked (a custom OAuth2 app's, at CyberArk). */
  revocable(profile: Profile): boolean {
    return this.#identity.endpoints(profile).revocation !== undefined;
  }

  /**
   * Revokes one token that work obtained while a `DELETE` of its profile ran
   * (`deletion-race.ts`), exactly as a `DELETE` revokes each of its tokens. The ledger keeps it,
   * so one whose revocation failed is tried again by the next `DELETE`. Never throws.
   * @returns whether it was revoked (false, too, for a profile whose tokens cannot be).
   */
  async revokeRaced(profile: Profile, token: CachedToken): Promise<boolean> {
    const endpoint = this.#identity.endpoints(profile).revocation;
    if (endpoint === undefined) return false;
    const { accessToken } = token;
    return this.#revokeOne(profile, endpoint, accessToken, tokenFingerprint(accessToken));
  }

  async #revokeOne(
    profile: Profile,
    endpoint: string,
    token: string,
    fingerprint: string | undefined,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      try {
        const credentials = await this.#slots.generation(profile).credentials.get();
        await this.#identity.revokeToken({
          endpoint,
          clientAuth: profile.clientAuth,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
          token,
        });
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
