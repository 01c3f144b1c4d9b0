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
 * tenant's, so it holds for the whole profile too, and for every instance: the caller records it
 * in the profile's record, and the guard checks the record before EVERY attempt (retries
 * included: the identity client asks it, `leased-exchange.ts`).
 */
import type { ClientCredentials } from "./credentials.js";
import { UpstreamRejectedError, UpstreamUnavailableError } from "./errors.js";
import { grantedBeyond } from "./granted-scopes.js";
import { METRICS } from "./metrics.js";
import type { Clock, IdentityProvider, Logger, Metrics } from "./ports.js";
import type { ProfileSlots } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import { NO_SCOPES, type ScopeSet } from "./scope-set.js";
import { REJECTION_MEMORY_MS } from "./timing.js";
import {
  type CachedToken,
  cacheKey,
  MAX_LIFETIME_SECONDS,
  type TokenGrant,
  tokenFromGrant,
} from "./token.js";

/** A token and the credentials that obtained it (after a rotation retry, the re-read ones). */
export interface Exchanged {
  readonly token: CachedToken;
  readonly credentials: ClientCredentials;
}

/** Asked before every attempt at CyberArk with `credentials`; throws when it must not be sent. */
export type AttemptGuard = (attempt: number, credentials: ClientCredentials) => Promise<void>;

/** Takes a token CyberArk answered that cannot be used (expiry counted from its arrival). */
export type Discard = (token: CachedToken) => Promise<void>;

// An unusable answer's token, for the ledger and revocation: its lifetime if one can be told.
function unusableToken(grant: TokenGrant, key: string, arrivedAt: number): CachedToken {
  try {
    return tokenFromGrant(grant, key, arrivedAt);
  } catch {
    const expiresAt = arrivedAt + MAX_LIFETIME_SECONDS * 1000;
    return { cacheKey: key, accessToken: grant.accessToken, issuedAt: arrivedAt, expiresAt };
  }
}

/** Obtains tokens from CyberArk. One per function instance. */
export class TokenExchange {
  readonly #slots: ProfileSlots;
  readonly #identity: IdentityProvider;
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  readonly #logger: Logger;

  constructor(parts: {
    readonly slots: ProfileSlots;
    readonly identity: IdentityProvider;
    readonly clock: Clock;
    readonly metrics: Metrics;
    readonly logger: Logger;
  }) {
    this.#slots = parts.slots;
    this.#identity = parts.identity;
    this.#clock = parts.clock;
    this.#metrics = parts.metrics;
    this.#logger = parts.logger;
  }

  /**
   * A new token of the profile. `guard` runs before each attempt is sent (the lease, the
   * back-off and the record's epoch are checked there).
   * @throws {UpstreamRejectedError} when CyberArk refused it (remembered for a while).
   * @throws {UpstreamUnavailableError} when CyberArk failed, or asked for a back-off not yet over.
   */
  async obtain(
    profile: Profile,
    set: ScopeSet,
    credentials: ClientCredentials,
    guard: AttemptGuard,
    discard?: Discard,
  ): Promise<Exchanged> {
    this.#checkMemories(profile, set, credentials);
    let used = credentials;
    try {
      try {
        return {
          token: await this.#request(profile, set, used, guard, discard),
          credentials: used,
        };
      } catch (error) {
        if (!(error instanceof UpstreamRejectedError && error.isInvalidClient)) throw error;
        used = await this.#slots.generation(profile).credentials.get({ fresh: true });
        return {
          token: await this.#request(profile, set, used, guard, discard),
          credentials: used,
        };
      }
    } catch (error) {
      this.#remember(profile, set, used, error);
      throw error;
    }
  }

  /** Holds back the profile until `until` (epoch ms), as the record says another instance was told. */
  holdBack(profile: Profile, until: number): void {
    const { shared } = this.#slots.generation(profile);
    shared.backOffUntil = Math.max(until, shared.backOffUntil);
  }

  /** Throws while the profile backs off, as this instance knows. */
  checkBackOff(profile: Profile): void {
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
    this.checkBackOff(profile);
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

  #remember(profile: Profile, set: ScopeSet, used: ClientCredentials, error: unknown): void {
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
      this.holdBack(profile, until);
    }
  }

  async #request(
    profile: Profile,
    set: ScopeSet,
    credentials: ClientCredentials,
    guard: AttemptGuard,
    discard?: Discard,
  ): Promise<CachedToken> {
    this.checkBackOff(profile);
    // Counted from when the first attempt passed its guard (nothing was sent before): metrics,
    // and the token's lifetime (for serving it errs short; the ledger counts from the answer).
    const startedAt = this.#clock.now();
    let sentAt: number | undefined;
    try {
      const grant = await this.#identity.requestToken({
        endpoint: this.#identity.endpoints(profile).token,
        clientAuth: profile.clientAuth,
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        ...(set === NO_SCOPES ? {} : { scope: set }),
        beforeAttempt: async (attempt) => {
          await guard(attempt, credentials);
          this.checkBackOff(profile);
          if (sentAt !== undefined) return;
          sentAt = this.#clock.now();
          this.#metrics.add(METRICS.upstreamRequests, profile.name, 1);
        },
      });
      const beyond = grantedBeyond(set, grant.scope);
      const key = cacheKey(profile, credentials, set);
      let token: CachedToken;
      try {
        if (beyond.length > 0) throw this.#broader(profile, set, beyond);
        token = tokenFromGrant(grant, key, sentAt ?? startedAt);
      } catch (error) {
        // Unusable, yet CyberArk honours it: handed over to be revoked, never served.
        if (grant.accessToken) await discard?.(unusableToken(grant, key, this.#clock.now()));
        throw error;
      }
      this.#slots.of(profile, set).rejection = undefined;
      this.#slots.generation(profile).clientRejection = undefined;
      return token;
    } catch (error) {
      if (sentAt !== undefined) {
        this.#metrics.add(METRICS.upstreamErrors, profile.name, 1, upstreamErrorKind(error));
      }
      throw error;
    } finally {
      if (sentAt !== undefined) {
        this.#metrics.add(METRICS.upstreamLatency, profile.name, this.#clock.now() - sentAt);
      }
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
