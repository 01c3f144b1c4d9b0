/**
 * The vending rules (CONTRACT.md sections 3 and 4): who gets which token, from which cache level,
 * and when CyberArk is asked. Pure in the sense that matters: every dependency is a port, so every
 * decision here is tested with fakes and a fake clock.
 */
import { randomUUID } from "node:crypto";
import { type Caller, type CallerPattern, isAllowed } from "./callers.js";
import { type ClientCredentials, CredentialsCache } from "./credentials.js";
import {
  AccessDeniedError,
  describeUnknown,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "./errors.js";
import type { Clock, IdentityProvider, Logger, SecretSource, TokenStore } from "./ports.js";
import type { Profile, ProfilesConfig } from "./profiles.js";
import {
  type CachedToken,
  cacheKey,
  isDueForRenewal,
  isUsable,
  tokenEndpointPath,
  tokenFromGrant,
} from "./token.js";

/** Where a returned token came from, for the audit line. */
export type CacheLevel = "memory" | "table" | "upstream";

/** A `GET /tokens/{profile}`, already parsed. */
export interface TokenQuery {
  readonly profile: string;
  readonly caller: Caller | undefined;
  readonly minValiditySeconds: number;
}

/** A vended token and where it came from. */
export interface VendedToken {
  readonly token: CachedToken;
  readonly cache: CacheLevel;
}

/** A `DELETE /tokens/{profile}`, already parsed. */
export interface InvalidateQuery {
  readonly profile: string;
  readonly caller: Caller | undefined;
}

/** Everything {@link TokenVendor} depends on. */
export interface VendorDependencies {
  readonly config: ProfilesConfig;
  readonly secrets: SecretSource;
  readonly store: TokenStore;
  readonly identity: IdentityProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits between polls of the table. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * How often a memory entry is checked against the table, so a `DELETE` on any instance reaches
 * every warm instance within 30 seconds (CONTRACT.md section 3).
 */
export const MEMORY_RECHECK_MS = 30_000;
/** How long a rejection by CyberArk is remembered, so a broken profile does not hammer the tenant. */
export const REJECTION_MEMORY_MS = 10_000;
/**
 * How long the refresh lease is held. Longer than the identity client's worst case (3 attempts of
 * 3 s plus 2 backoffs of at most 2 s: 13 s), so a live owner never loses it mid-exchange.
 */
export const LEASE_MS = 15_000;
/** How long a caller waits for another instance's refresh before answering 503. */
export const LEASE_WAIT_MS = 12_000;
/**
 * How long into its wait a caller may still take the lease over and ask CyberArk itself: 5 s of
 * waiting plus a 13 s exchange stay inside the function's 20 s timeout. Later it only polls.
 */
export const LEASE_TAKEOVER_MS = 5_000;
/** Mean interval between polls of the table while another instance refreshes. */
export const LEASE_POLL_MS = 150;
/** After a failed background renewal, how long before the next attempt. */
export const RENEWAL_RETRY_MS = 5_000;

interface MemoryEntry {
  readonly token: CachedToken;
  /** The credentials object the token's key was derived from; compared by identity on a hit. */
  readonly credentials: ClientCredentials;
  /** When the table last confirmed this entry. */
  readonly checkedAt: number;
}

interface Rejection {
  readonly cacheKey: string;
  readonly until: number;
  readonly error: UpstreamRejectedError;
}

/** Vends tokens for the configured profiles. One instance per function instance. */
export class TokenVendor {
  readonly #deps: VendorDependencies;
  readonly #credentials: CredentialsCache;
  readonly #memory = new Map<string, MemoryEntry>();
  readonly #inFlight = new Map<string, Promise<VendedToken>>();
  readonly #rejections = new Map<string, Rejection>();
  // Bumped by every DELETE: work started before it must not repopulate the memory cache.
  readonly #generations = new Map<string, number>();
  // Profiles being renewed in the background, and when a renewal last failed.
  readonly #renewals = new Set<string>();
  readonly #renewalFailedAt = new Map<string, number>();
  // Identifies this instance as a lease owner.
  readonly #owner = randomUUID();
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(deps: VendorDependencies) {
    this.#deps = deps;
    this.#credentials = new CredentialsCache(deps.secrets, deps.clock);
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Returns a token of the profile valid for at least the (capped) `min_validity`.
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not allowed.
   */
  async getToken(query: TokenQuery): Promise<VendedToken> {
    const profile = this.#authorize(query.profile, query.caller, (p) => p.allowedCallers);
    const hit = this.#memoryHit(profile, query.minValiditySeconds);
    const vended = hit
      ? { token: hit, cache: "memory" as const }
      : await this.#refreshFor(profile, query.minValiditySeconds);
    this.#renewIfDue(profile, vended.token, query.minValiditySeconds);
    return vended;
  }

  async #refreshFor(profile: Profile, minValiditySeconds: number): Promise<VendedToken> {
    const shared = await this.#refreshOnce(profile, minValiditySeconds);
    // A flight started by a caller with a smaller min_validity may return a token too short for
    // this one; then this caller starts its own (which goes upstream at most once).
    if (isUsable(shared.token, this.#deps.clock.now(), minValiditySeconds)) return shared;
    return this.#refreshOnce(profile, minValiditySeconds);
  }

  /**
   * Drops the profile's cached token everywhere this instance can reach: the table at once, and
   * this instance's memory, credentials and remembered rejection. Other instances notice within
   * {@link MEMORY_RECHECK_MS}.
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not an admin.
   */
  async invalidate(query: InvalidateQuery): Promise<void> {
    const profile = this.#authorize(
      query.profile,
      query.caller,
      () => this.#deps.config.adminCallers,
    );
    this.#generations.set(profile.name, this.#generation(profile.name) + 1);
    this.#memory.delete(profile.name);
    this.#inFlight.delete(profile.name);
    this.#rejections.delete(profile.name);
    this.#credentials.forget(profile.secretId);
    await this.#deps.store.delete(profile.name);
  }

  #authorize(
    name: string,
    caller: Caller | undefined,
    patternsOf: (profile: Profile) => readonly CallerPattern[],
  ): Profile {
    const profile = this.#deps.config.profiles.get(name);
    if (!profile) throw new AccessDeniedError(`profile "${name}" does not exist`);
    if (!isAllowed(caller, patternsOf(profile))) {
      throw new AccessDeniedError(`caller is not allowed for profile "${name}"`);
    }
    return profile;
  }

  // The warm path: a Map lookup and two comparisons, no I/O.
  #memoryHit(profile: Profile, minValiditySeconds: number): CachedToken | undefined {
    const entry = this.#memory.get(profile.name);
    if (!entry) return undefined;
    const now = this.#deps.clock.now();
    const current = entry.credentials === this.#credentials.peek(profile.secretId);
    const recentlyChecked = now - entry.checkedAt < MEMORY_RECHECK_MS;
    return current && recentlyChecked && isUsable(entry.token, now, minValiditySeconds)
      ? entry.token
      : undefined;
  }

  // Concurrent misses of one profile in this instance share one refresh.
  #refreshOnce(profile: Profile, minValiditySeconds: number): Promise<VendedToken> {
    const running = this.#inFlight.get(profile.name);
    if (running) return running;
    const flight = this.#refresh(profile, minValiditySeconds).finally(() => {
      if (this.#inFlight.get(profile.name) === flight) this.#inFlight.delete(profile.name);
    });
    this.#inFlight.set(profile.name, flight);
    return flight;
  }

  async #refresh(profile: Profile, minValiditySeconds: number): Promise<VendedToken> {
    const generation = this.#generation(profile.name);
    let credentials = await this.#credentials.get(profile.secretId);
    const held = this.#memory.get(profile.name);
    const read = await this.#readStoreReporting(profile.name);
    const stored = read.token;

    // The table could not confirm or deny what we hold (a DELETE elsewhere, a newer token). The
    // token is still good for this caller, so keep serving it rather than ask CyberArk, and ask
    // the table again in MEMORY_RECHECK_MS.
    if (
      read.failed &&
      held &&
      held.credentials === credentials &&
      isUsable(held.token, this.#deps.clock.now(), minValiditySeconds)
    ) {
      this.#remember(profile, held.token, held.credentials, generation);
      return { token: held.token, cache: "memory" };
    }

    // The table disagrees with what this instance believed: an admin DELETE (item gone while we
    // held one in memory) or another instance that already saw a rotated secret (other key).
    // Either way our credentials may be stale, so read them again before deciding.
    this.#memory.delete(profile.name);
    const tableDisagrees = stored
      ? stored.cacheKey !== cacheKey(profile, credentials)
      : held !== undefined && !read.failed;
    if (tableDisagrees)
      credentials = await this.#credentials.get(profile.secretId, { fresh: true });

    if (stored && this.#servable(profile, stored, credentials, minValiditySeconds)) {
      this.#remember(profile, stored, credentials, generation);
      return { token: stored, cache: "table" };
    }
    return this.#obtainUnderLease(profile, credentials, minValiditySeconds, generation);
  }

  // Across instances, only the holder of the profile's lease asks CyberArk; the others poll the
  // table for its token, and take the lease over if its holder died (the lease expires).
  async #obtainUnderLease(
    profile: Profile,
    credentials: ClientCredentials,
    minValiditySeconds: number,
    generation: number,
  ): Promise<VendedToken> {
    const started = this.#deps.clock.now();
    for (;;) {
      const waited = this.#deps.clock.now() - started;
      if (waited < LEASE_TAKEOVER_MS && (await this.#tryLease(profile.name))) {
        try {
          // Another instance may have finished between our read and our lease.
          const stored = await this.#readStore(profile.name);
          if (stored && this.#servable(profile, stored, credentials, minValiditySeconds)) {
            this.#remember(profile, stored, credentials, generation);
            return { token: stored, cache: "table" };
          }
          return {
            token: await this.#upstream(profile, credentials, generation),
            cache: "upstream",
          };
        } finally {
          await this.#releaseLease(profile.name);
        }
      }
      if (waited >= LEASE_WAIT_MS) {
        throw new UpstreamUnavailableError(
          `another instance held the refresh lease of "${profile.name}" for over ${LEASE_WAIT_MS} ms`,
          2,
        );
      }
      await this.#sleep(LEASE_POLL_MS * (0.5 + this.#random()));
      const stored = await this.#readStore(profile.name);
      if (stored && this.#servable(profile, stored, credentials, minValiditySeconds)) {
        this.#remember(profile, stored, credentials, generation);
        return { token: stored, cache: "table" };
      }
    }
  }

  #servable(
    profile: Profile,
    token: CachedToken,
    credentials: ClientCredentials,
    minValiditySeconds: number,
  ): boolean {
    return (
      token.cacheKey === cacheKey(profile, credentials) &&
      isUsable(token, this.#deps.clock.now(), minValiditySeconds)
    );
  }

  // Asks CyberArk, then stores the token in the table and memory unless a DELETE came meanwhile.
  async #upstream(
    profile: Profile,
    credentials: ClientCredentials,
    generation: number,
  ): Promise<CachedToken> {
    const { token, usedCredentials } = await this.#exchange(profile, credentials);
    if (this.#generation(profile.name) === generation) {
      await this.#writeStore(profile.name, token);
      this.#remember(profile, token, usedCredentials, generation);
    }
    return token;
  }

  // Refresh ahead: the caller already has a usable token; one background renewal per instance and
  // profile, under the lease, so steady traffic never waits for CyberArk. In Lambda the work may
  // be frozen with the instance and resume on its next request; the lease expiry and the
  // conditional write make that harmless.
  #renewIfDue(profile: Profile, token: CachedToken, minValiditySeconds: number): void {
    const now = this.#deps.clock.now();
    if (!isDueForRenewal(token, now, minValiditySeconds)) return;
    if (this.#renewals.has(profile.name) || this.#inFlight.has(profile.name)) return;
    if (
      now - (this.#renewalFailedAt.get(profile.name) ?? Number.NEGATIVE_INFINITY) <
      RENEWAL_RETRY_MS
    )
      return;
    this.#renewals.add(profile.name);
    this.#renew(profile, minValiditySeconds)
      .catch((error: unknown) => {
        this.#renewalFailedAt.set(profile.name, this.#deps.clock.now());
        this.#deps.logger.warn(
          "background renewal failed; the current token is served while valid",
          {
            profile: profile.name,
            reason: error instanceof Error ? error.message : describeUnknown(error),
          },
        );
      })
      .finally(() => this.#renewals.delete(profile.name));
  }

  async #renew(profile: Profile, minValiditySeconds: number): Promise<void> {
    const generation = this.#generation(profile.name);
    const credentials = await this.#credentials.get(profile.secretId);
    if (!(await this.#tryLease(profile.name))) return; // another instance is renewing
    try {
      const stored = await this.#readStore(profile.name);
      const renewedElsewhere =
        stored &&
        this.#servable(profile, stored, credentials, minValiditySeconds) &&
        !isDueForRenewal(stored, this.#deps.clock.now(), minValiditySeconds);
      if (stored && renewedElsewhere) {
        this.#remember(profile, stored, credentials, generation);
        return;
      }
      await this.#upstream(profile, credentials, generation);
    } finally {
      await this.#releaseLease(profile.name);
    }
  }

  // One token request, and on invalid_client (or 401) one more with the secret read afresh: the
  // credentials may have been rotated since we cached them. A final rejection is remembered for
  // the identity that got it, so a misconfigured profile does not hammer the tenant.
  async #exchange(
    profile: Profile,
    credentials: ClientCredentials,
  ): Promise<{ token: CachedToken; usedCredentials: ClientCredentials }> {
    const rejection = this.#rejections.get(profile.name);
    if (
      rejection &&
      rejection.cacheKey === cacheKey(profile, credentials) &&
      this.#deps.clock.now() < rejection.until
    ) {
      throw rejection.error;
    }
    let used = credentials;
    try {
      try {
        return { token: await this.#requestToken(profile, used), usedCredentials: used };
      } catch (error) {
        if (!(error instanceof UpstreamRejectedError && error.isInvalidClient)) throw error;
        used = await this.#credentials.get(profile.secretId, { fresh: true });
        return { token: await this.#requestToken(profile, used), usedCredentials: used };
      }
    } catch (error) {
      if (error instanceof UpstreamRejectedError) {
        this.#rejections.set(profile.name, {
          cacheKey: cacheKey(profile, used),
          until: this.#deps.clock.now() + REJECTION_MEMORY_MS,
          error,
        });
      }
      throw error;
    }
  }

  async #requestToken(profile: Profile, credentials: ClientCredentials): Promise<CachedToken> {
    const issuedAt = this.#deps.clock.now();
    const grant = await this.#deps.identity.requestToken({
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

  #remember(
    profile: Profile,
    token: CachedToken,
    credentials: ClientCredentials,
    generation: number,
  ): void {
    if (this.#generation(profile.name) !== generation) return;
    this.#memory.set(profile.name, { token, credentials, checkedAt: this.#deps.clock.now() });
  }

  #generation(profile: string): number {
    return this.#generations.get(profile) ?? 0;
  }

  // The table is a cache: when it fails, CyberArk is still reachable, and the in-instance single
  // flight bounds the extra upstream load to one request per instance and profile.
  async #readStore(profile: string): Promise<CachedToken | undefined> {
    return (await this.#readStoreReporting(profile)).token;
  }

  // As #readStore, telling "no item" (failed: false) from "the table did not answer".
  async #readStoreReporting(profile: string): Promise<{ token?: CachedToken; failed: boolean }> {
    try {
      const token = await this.#deps.store.get(profile);
      return token ? { token, failed: false } : { failed: false };
    } catch (error) {
      this.#deps.logger.warn("token table read failed; treating as a miss", {
        profile,
        reason: describeUnknown(error),
      });
      return { failed: true };
    }
  }

  // When the table cannot be written, the lease fails open: callers keep getting tokens, and the
  // in-instance single flight still bounds CyberArk to one request per instance and profile.
  async #tryLease(profile: string): Promise<boolean> {
    const now = this.#deps.clock.now();
    try {
      return await this.#deps.store.acquireLease(profile, this.#owner, now, now + LEASE_MS);
    } catch (error) {
      this.#deps.logger.warn("refresh lease unavailable; refreshing without it", {
        profile,
        reason: describeUnknown(error),
      });
      return true;
    }
  }

  async #releaseLease(profile: string): Promise<void> {
    try {
      await this.#deps.store.releaseLease(profile, this.#owner);
    } catch (error) {
      // The lease expires by itself; nothing is lost but a little waiting elsewhere.
      this.#deps.logger.warn("refresh lease release failed", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }

  async #writeStore(profile: string, token: CachedToken): Promise<void> {
    try {
      await this.#deps.store.put(profile, token);
    } catch (error) {
      this.#deps.logger.warn("token table write failed; token served from memory only", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }
}
