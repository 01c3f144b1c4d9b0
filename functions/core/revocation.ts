/**
 * Revocation at CyberArk after a `DELETE`: a leaked copy of a dropped token stops working at
 * once, not when it expires. Only for profiles the identity provider names a revocation endpoint
 * for (at CyberArk, custom OAuth2 apps; platform tokens have none documented). A revocation that fails is logged
 * with CyberArk's error and tried once more; it never fails the `DELETE`: the cache is dropped
 * either way, and the log says which tokens may still be alive.
 */
import { logReason, UpstreamUnavailableError } from "./errors.js";
import type { IdentityProvider, Logger } from "./ports.js";
import type { ProfileSlots } from "./profile-slots.js";
import type { Profile } from "./profiles.js";
import { type CachedToken, tokenFingerprint } from "./token.js";

/** What a `DELETE` did at CyberArk, for its audit line. */
export interface Revoked {
  /** `true`: every dropped token was revoked; `false`: none to revoke; `failed`: see the log. */
  readonly revoked: "true" | "false" | "failed";
  /** SHA-256 prefixes of the tokens revoked or tried, comma-separated; never a token. */
  readonly tokenSha256?: string;
}

const ATTEMPTS = 2;

/** Revokes dropped tokens. One per function instance. */
export class TokenRevocation {
  readonly #slots: ProfileSlots;
  readonly #identity: IdentityProvider;
  readonly #logger: Logger;

  constructor(slots: ProfileSlots, identity: IdentityProvider, logger: Logger) {
    this.#slots = slots;
    this.#identity = identity;
    this.#logger = logger;
  }

  /** Revokes each distinct token of `dropped` with the profile's credentials. Never throws. */
  async revoke(profile: Profile, dropped: readonly (CachedToken | undefined)[]): Promise<Revoked> {
    const endpoint = this.#identity.endpoints(profile).revocation;
    const tokens = [...new Set(dropped.flatMap((token) => (token ? [token.accessToken] : [])))];
    if (endpoint === undefined || tokens.length === 0) return { revoked: "false" };
    const fingerprints = tokens.map(tokenFingerprint);
    const results = await Promise.all(
      tokens.map((token, index) => this.#revokeOne(profile, endpoint, token, fingerprints[index])),
    );
    return {
      revoked: results.every(Boolean) ? "true" : "failed",
      tokenSha256: fingerprints.join(","),
    };
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
