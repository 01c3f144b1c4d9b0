/**
 * The exchange with CyberArk for one scope set of a profile: one token request, and on
 * `invalid_client` (or a 401) one more with the secret read afresh, since the credentials may have
 * been rotated since they were cached. The set is sent as `scope` (none when it is empty), and an
 * answer granting more than it is unusable (`granted-scopes.ts`).
 *
 * Two memories protect the tenant: a final rejection is remembered for {@link REJECTION_MEMORY_MS}
 * for the identity that got it, so a misconfigured profile does not hammer the tenant; and a
 * back-off the tenant asked for (`Retry-After` on a 429 or 503) is kept for the profile, during
 * which nothing is sent and callers get a 503 carrying the time that remains. A rejection is the
 * scope set's (`invalid_scope` for one ask says nothing of another), except `invalid_client`: it
 * is about the credentials every set shares, so it holds for the whole profile. A back-off is the
 * tenant's, so it holds for the whole profile too.
 *
 * A back-off holds for every instance (CyberArk is one tenant), so it is also recorded in the
 * shared table, and read from there before each request: once before the first, again (at the
 * same time as the secret) before the rotation retry, and again whenever the last read is older
 * than {@link BACK_OFF_READ_MAX_AGE_MS}, which only a freeze of the instance can make it.
 */
import type { ClientCredentials } from "./credentials.js";
import { UpstreamRejectedError, UpstreamUnavailableError } from "./errors.js";
import { grantedBeyond } from "./granted-scopes.js";
import { METRICS } from "./metrics.js";
import type { Clock, IdentityProvider, Logger, Metrics } from "./ports.js";
import type { ProfileSlots } from "./profile-slots.js";
import type { Profile } from "./profiles.js";
import { NO_SCOPES, type ScopeSet } from "./scope-set.js";
import { BACK_OFF_READ_MAX_AGE_MS, MAX_BACK_OFF_MS, REJECTION_MEMORY_MS } from "./timing.js";
import { type CachedToken, cacheKey, tokenFromGrant } from "./token.js";

/** A token and the credentials that obtained it (after a rotation retry, the re-read ones). */
export interface Exchanged {
  readonly token: CachedToken;
  readonly credentials: ClientCredentials;
}

/** Called before each token request; throws when the request must not be sent. */
export type BeforeRequest = () => void;

/**
 * Where back-offs are shared between instances (the token table). Failures are the store's to
 * handle: a read that fails answers `undefined`, a record that fails is logged.
 */
export interface SharedBackOffs {
  /** The end of the profile's recorded back-off (epoch ms), if any. */
  backOffUntil(profile: string): Promise<number | undefined>;
  /** Records a back-off of the profile until `until` (epoch ms) for every instance. */
  recordBackOff(profile: string, until: number): Promise<void>;
}

/** Obtains tokens from CyberArk. One per function instance. */
export class TokenExchange {
  readonly #slots: ProfileSlots;
  readonly #identity: IdentityProvider;
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  readonly #shared: SharedBackOffs;
  readonly #logger: Logger;

  constructor(parts: {
    readonly slots: ProfileSlots;
    readonly identity: IdentityProvider;
    readonly clock: Clock;
    readonly metrics: Metrics;
    readonly shared: SharedBackOffs;
    readonly logger: Logger;
  }) {
    this.#slots = parts.slots;
    this.#identity = parts.identity;
    this.#clock = parts.clock;
    this.#metrics = parts.metrics;
    this.#shared = parts.shared;
    this.#logger = parts.logger;
  }

  /**
   * A new token of the profile. `beforeRequest` runs before each request is sent (the refresh
   * lease checks there that it still covers the request).
   * @throws {UpstreamRejectedError} when CyberArk refused it (remembered for a while).
   * @throws {UpstreamUnavailableError} when CyberArk failed, or asked for a back-off not yet over.
   */
  async obtain(
    profile: Profile,
    set: ScopeSet,
    credentials: ClientCredentials,
    beforeRequest: BeforeRequest = () => {},
  ): Promise<Exchanged> {
    this.#checkMemories(profile, set, credentials);
    let used = credentials;
    try {
      let backOffReadAt = await this.#readSharedBackOff(profile);
      try {
        const token = await this.#request(profile, set, used, beforeRequest, backOffReadAt);
        return { token, credentials: used };
      } catch (error) {
        if (!(error instanceof UpstreamRejectedError && error.isInvalidClient)) throw error;
        // Both reads at once: the timing budget counts one call for them.
        [used, backOffReadAt] = await Promise.all([
          this.#slots.generation(profile).credentials.get({ fresh: true }),
          this.#readSharedBackOff(profile),
        ]);
        const token = await this.#request(profile, set, used, beforeRequest, backOffReadAt);
        return { token, credentials: used };
      }
    } catch (error) {
      await this.#remember(profile, set, used, error);
      throw error;
    }
  }

  /**
   * Holds back the profile until `until` (epoch ms), as another instance was told to. An end
   * further away than any back-off CyberArk may ask for was not written by this service (someone
   * edited the table) and is ignored: capping it would renew the pause on every read, for ever.
   */
  #holdBack(profile: Profile, until: number): void {
    if (until > this.#clock.now() + MAX_BACK_OFF_MS) return;
    const { shared } = this.#slots.generation(profile);
    shared.backOffUntil = Math.max(until, shared.backOffUntil);
  }

  // Reads the back-off every instance was told of, and returns when the read was sent.
  async #readSharedBackOff(profile: Profile): Promise<number> {
    const sentAt = this.#clock.now();
    const until = await this.#shared.backOffUntil(profile.name);
    if (until !== undefined) this.#holdBack(profile, until);
    return sentAt;
  }

  #checkBackOff(profile: Profile): void {
    const now = this.#clock.now();
    const { backOffUntil } = this.#slots.generation(profile).shared;
    if (now < backOffUntil) {
      const seconds = Math.ceil((backOffUntil - now) / 1000);
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "backing-off",
        detail: `CyberArk asked for a back-off of the profile; ${seconds} s remain`,
        retryAfterSeconds: seconds,
      });
    }
  }

  #checkMemories(profile: Profile, set: ScopeSet, credentials: ClientCredentials): void {
    this.#checkBackOff(profile);
    const now = this.#clock.now();
    const { clientRejection } = this.#slots.generation(profile);
    const { rejection } = this.#slots.of(profile, set);
    const remembered = [
      { rejection: clientRejection, key: cacheKey(profile, credentials, NO_SCOPES) },
      { rejection, key: cacheKey(profile, credentials, set) },
    ];
    for (const { rejection: held, key } of remembered) {
      if (held?.cacheKey === key && now < held.until) throw held.error;
    }
  }

  async #remember(
    profile: Profile,
    set: ScopeSet,
    used: ClientCredentials,
    error: unknown,
  ): Promise<void> {
    const now = this.#clock.now();
    if (error instanceof UpstreamRejectedError) {
      const until = now + REJECTION_MEMORY_MS;
      // The credentials' own refusal is keyed by the identity without a scope: every set's.
      if (error.isInvalidClient) {
        const cacheKeyOf = cacheKey(profile, used, NO_SCOPES);
        this.#slots.generation(profile).clientRejection = { cacheKey: cacheKeyOf, until, error };
      } else {
        this.#slots.of(profile, set).rejection = {
          cacheKey: cacheKey(profile, used, set),
          until,
          error,
        };
      }
    }
    if (error instanceof UpstreamUnavailableError && error.backOffSeconds !== undefined) {
      const until = now + error.backOffSeconds * 1000;
      this.#slots.generation(profile).shared.backOffUntil = until;
      await this.#shared.recordBackOff(profile.name, until);
    }
  }

  async #request(
    profile: Profile,
    set: ScopeSet,
    credentials: ClientCredentials,
    beforeRequest: BeforeRequest,
    backOffReadAt: number,
  ): Promise<CachedToken> {
    // A read this old was held up by a freeze: another instance may have been told to back off
    // since. Nothing is awaited between this check and the request, so none can come between;
    // and reads slowed down again and again stop when too little of the lease is left.
    let readAt = backOffReadAt;
    while (this.#clock.now() - readAt > BACK_OFF_READ_MAX_AGE_MS) {
      beforeRequest();
      readAt = await this.#readSharedBackOff(profile);
    }
    this.#checkBackOff(profile);
    beforeRequest();
    const issuedAt = this.#clock.now();
    this.#metrics.add(METRICS.upstreamRequests, profile.name, 1);
    try {
      const grant = await this.#identity.requestToken({
        endpoint: this.#identity.endpoints(profile).token,
        clientAuth: profile.clientAuth,
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        ...(set === NO_SCOPES ? {} : { scope: set }),
      });
      const beyond = grantedBeyond(set, grant.scope);
      if (beyond.length > 0) throw this.#broader(profile, set, beyond);
      this.#slots.of(profile, set).rejection = undefined;
      this.#slots.generation(profile).clientRejection = undefined;
      return tokenFromGrant(grant, cacheKey(profile, credentials, set), issuedAt);
    } catch (error) {
      this.#metrics.add(METRICS.upstreamErrors, profile.name, 1, upstreamErrorKind(error));
      throw error;
    } finally {
      this.#metrics.add(METRICS.upstreamLatency, profile.name, this.#clock.now() - issuedAt);
    }
  }

  // Logged with the scope names (never the token), and counted as an unusable answer.
  #broader(profile: Profile, set: ScopeSet, beyond: string[]): UpstreamUnavailableError {
    this.#logger.warn("the identity provider granted scopes not asked; answer discarded", {
      profile: profile.name,
      asked: set,
      notAsked: beyond.join(" "),
    });
    return new UpstreamUnavailableError({
      dependency: "identity",
      kind: "unusable",
      detail: `the identity provider granted scopes that were not asked: ${beyond.join(" ")}`,
      retryAfterSeconds: 30,
    });
  }
}

// The metric's `Error` dimension: the API's error code, or `timeout` when CyberArk never answered.
function upstreamErrorKind(error: unknown): string {
  if (error instanceof UpstreamUnavailableError && error.kind === "timeout") return "timeout";
  return error instanceof UpstreamRejectedError || error instanceof UpstreamUnavailableError
    ? error.code
    : "server_error";
}
