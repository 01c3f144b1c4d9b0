/**
 * The exchange with CyberArk for one profile: one token request, and on `invalid_client` (or a
 * 401) one more with the secret read afresh, since the credentials may have been rotated since
 * they were cached. A final rejection is remembered for {@link REJECTION_MEMORY_MS} for the
 * identity that got it, so a misconfigured profile does not hammer the tenant.
 */
import type { ClientCredentials, CredentialsCache } from "./credentials.js";
import { UpstreamRejectedError } from "./errors.js";
import type { Clock, IdentityProvider } from "./ports.js";
import type { Profile } from "./profiles.js";
import { REJECTION_MEMORY_MS } from "./timing.js";
import { type CachedToken, cacheKey, tokenEndpointPath, tokenFromGrant } from "./token.js";

/** A token and the credentials that obtained it (after a rotation retry, the re-read ones). */
export interface Exchanged {
  readonly token: CachedToken;
  readonly credentials: ClientCredentials;
}

interface Rejection {
  readonly cacheKey: string;
  readonly until: number;
  readonly error: UpstreamRejectedError;
}

/** Obtains tokens from CyberArk. One per function instance. */
export class TokenExchange {
  readonly #credentials: CredentialsCache;
  readonly #identity: IdentityProvider;
  readonly #clock: Clock;
  readonly #rejections = new Map<string, Rejection>();

  constructor(credentials: CredentialsCache, identity: IdentityProvider, clock: Clock) {
    this.#credentials = credentials;
    this.#identity = identity;
    this.#clock = clock;
  }

  /**
   * A new token of the profile.
   * @throws {UpstreamRejectedError} when CyberArk refused it (remembered for a while).
   * @throws {UpstreamUnavailableError} when CyberArk failed.
   */
  async obtain(profile: Profile, credentials: ClientCredentials): Promise<Exchanged> {
    const rejection = this.#rejections.get(profile.name);
    if (
      rejection &&
      rejection.cacheKey === cacheKey(profile, credentials) &&
      this.#clock.now() < rejection.until
    ) {
      throw rejection.error;
    }
    let used = credentials;
    try {
      try {
        return { token: await this.#request(profile, used), credentials: used };
      } catch (error) {
        if (!(error instanceof UpstreamRejectedError && error.isInvalidClient)) throw error;
        used = await this.#credentials.get(profile.secretId, { fresh: true });
        return { token: await this.#request(profile, used), credentials: used };
      }
    } catch (error) {
      if (error instanceof UpstreamRejectedError) {
        this.#rejections.set(profile.name, {
          cacheKey: cacheKey(profile, used),
          until: this.#clock.now() + REJECTION_MEMORY_MS,
          error,
        });
      }
      throw error;
    }
  }

  /** Forgets a remembered rejection (after a `DELETE`, the next request tries again). */
  forget(profile: string): void {
    this.#rejections.delete(profile);
  }

  async #request(profile: Profile, credentials: ClientCredentials): Promise<CachedToken> {
    const issuedAt = this.#clock.now();
    const grant = await this.#identity.requestToken({
      tenantUrl: profile.tenantUrl,
      path: tokenEndpointPath(profile),
      clientAuth: profile.clientAuth,
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      ...(profile.scope === undefined ? {} : { scope: profile.scope }),
    });
    this.#rejections.delete(profile.name);
    return tokenFromGrant(grant, cacheKey(profile, credentials), issuedAt);
  }
}
