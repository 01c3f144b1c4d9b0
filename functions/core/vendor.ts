/**
 * The vending rules: who gets which token, from which cache level, and when CyberArk is asked.
 * Read `getToken` top to bottom: authorize, memory, table, lease, exchange. Each level is its
 * own module; this class only decides between them. Every dependency is a port, so every decision
 * is tested with fakes and a fake clock.
 */
import { SingleFlight } from "../shared/single-flight.js";
import { type Caller, type CallerPattern, isAllowed } from "./callers.js";
import { type ClientCredentials, CredentialsCache } from "./credentials.js";
import { AccessDeniedError, UpstreamUnavailableError } from "./errors.js";
import { TokenExchange } from "./exchange.js";
import { type Fence, MemoryCache } from "./memory-cache.js";
import type { Clock, IdentityProvider, Logger, SecretSource, TokenStore } from "./ports.js";
import type { Profile, ProfilesConfig } from "./profiles.js";
import { RefreshAhead } from "./refresh-ahead.js";
import { RefreshLease } from "./refresh-lease.js";
import { TableCache, type TableRead } from "./table-cache.js";
import { type CachedToken, cacheKey, isDueForRenewal, isUsable } from "./token.js";

/** Where a returned token came from, for the audit line and the metrics. */
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

/** Vends tokens for the configured profiles. One instance per function instance. */
export class TokenVendor {
  readonly #config: ProfilesConfig;
  readonly #clock: Clock;
  readonly #credentials: CredentialsCache;
  readonly #memory: MemoryCache;
  readonly #flights = new SingleFlight<string, VendedToken>();
  readonly #table: TableCache;
  readonly #lease: RefreshLease;
  readonly #exchange: TokenExchange;
  readonly #ahead: RefreshAhead;

  constructor(deps: VendorDependencies) {
    this.#config = deps.config;
    this.#clock = deps.clock;
    this.#credentials = new CredentialsCache(deps.secrets, deps.clock);
    this.#memory = new MemoryCache(deps.clock);
    this.#table = new TableCache(deps.store, deps.logger);
    this.#lease = new RefreshLease(deps);
    this.#exchange = new TokenExchange(this.#credentials, deps.identity, deps.clock);
    this.#ahead = new RefreshAhead(deps.clock, deps.logger);
  }

  /**
   * Returns a token of the profile valid for at least the (capped) `min_validity`.
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not allowed.
   */
  async getToken(query: TokenQuery): Promise<VendedToken> {
    const profile = this.#authorize(query.profile, query.caller, (p) => p.allowedCallers);
    const min = query.minValiditySeconds;
    const hit = this.#memory.hit(profile.name, this.#credentials.peek(profile.secretId), min);
    const vended = hit
      ? { token: hit, cache: "memory" as const }
      : await this.#refreshFor(profile, min);
    const busy = this.#flights.isRunning(profile.name);
    this.#ahead.consider(profile.name, vended.token, min, busy, () => this.#renew(profile, min));
    return vended;
  }

  /**
   * Drops the profile's cached token: from the table at once, from this instance's memory for
   * good (work in flight cannot put it back), and from other instances within their recheck.
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not an admin.
   * @throws {UpstreamUnavailableError} when the table could not drop it.
   */
  async invalidate(query: InvalidateQuery): Promise<void> {
    const profile = this.#authorize(query.profile, query.caller, () => this.#config.adminCallers);
    this.#forget(profile);
    await this.#table.delete(profile.name);
    // A request that read the item while it was being deleted may have held it meanwhile.
    this.#forget(profile);
  }

  /** The background renewal of `profile` under way, if any (tests await it). */
  renewal(profile: string): Promise<void> | undefined {
    return this.#ahead.running(profile);
  }

  #authorize(
    name: string,
    caller: Caller | undefined,
    patternsOf: (profile: Profile) => readonly CallerPattern[],
  ): Profile {
    const profile = this.#config.profiles.get(name);
    if (!profile) throw new AccessDeniedError(`profile "${name}" does not exist`);
    if (!isAllowed(caller, patternsOf(profile))) {
      throw new AccessDeniedError(`caller is not allowed for profile "${name}"`);
    }
    return profile;
  }

  #forget(profile: Profile): void {
    this.#memory.invalidate(profile.name);
    this.#flights.forget(profile.name);
    this.#exchange.forget(profile.name);
    this.#ahead.forget(profile.name);
    this.#credentials.forget(profile.secretId);
  }

  async #refreshFor(profile: Profile, min: number): Promise<VendedToken> {
    const refresh = () => this.#refresh(profile, min);
    try {
      const shared = await this.#flights.run(profile.name, refresh);
      // A flight started by a caller with a smaller min_validity may return a token too short for
      // this one; then this caller starts its own (which goes upstream at most once).
      if (isUsable(shared.token, this.#clock.now(), min)) return shared;
      return await this.#flights.run(profile.name, refresh);
    } catch (error) {
      // CyberArk failed (maybe for a flight that wanted more than this caller): a held token that
      // is valid long enough for this caller beats a 503, confirmed by the table or not.
      const held =
        error instanceof UpstreamUnavailableError && this.#memory.usable(profile.name, min);
      if (held) return { token: held, cache: "memory" };
      throw error;
    }
  }

  async #refresh(profile: Profile, min: number): Promise<VendedToken> {
    const fence = this.#memory.fence(profile.name);
    const started = this.#clock.now();
    const read = await this.#table.read(profile.name);
    const credentials = await this.#currentCredentials(profile, read, started);
    const key = cacheKey(profile, credentials);

    // The table could not confirm or deny what we hold: serve it for a while, unconfirmed.
    const unconfirmed = read.status === "unavailable" && this.#memory.unconfirmed(fence, key, min);
    if (unconfirmed) return { token: unconfirmed, cache: "memory" };

    const held = this.#memory.held(profile.name);
    const stored = read.status === "hit" ? read.token : undefined;
    // Memory goes only when the table disagrees: the item is gone (a DELETE) or of another identity.
    if (held && (read.status === "miss" || held.token.cacheKey !== key)) {
      this.#memory.drop(profile.name);
    } else if (held && stored?.accessToken === held.token.accessToken) {
      this.#memory.confirm(fence);
    }
    return (
      this.#servedFromTable(profile, stored, credentials, min, fence) ??
      this.#lease.runOrWait(
        profile.name,
        () => this.#refreshUnderLease(profile, credentials, min, fence),
        async () => {
          const polled = await this.#table.token(profile.name);
          return this.#servedFromTable(profile, polled, credentials, min, fence);
        },
      )
    );
  }

  // When the table holds nothing or another identity, a DELETE or a rotation may have happened
  // elsewhere: credentials read before this refresh began are read again before any decision.
  async #currentCredentials(
    profile: Profile,
    read: TableRead,
    started: number,
  ): Promise<ClientCredentials> {
    const credentials = await this.#credentials.get(profile.secretId);
    const disagrees =
      read.status === "miss" ||
      (read.status === "hit" && read.token.cacheKey !== cacheKey(profile, credentials));
    if (!disagrees) return credentials;
    return this.#credentials.get(profile.secretId, { readSince: started });
  }

  // Another instance may have finished between our read and our lease, so read once more.
  async #refreshUnderLease(
    profile: Profile,
    credentials: ClientCredentials,
    min: number,
    fence: Fence,
  ): Promise<VendedToken> {
    const stored = await this.#table.token(profile.name);
    const served = this.#servedFromTable(profile, stored, credentials, min, fence);
    if (served) return served;
    const token = await this.#upstream(profile, credentials, fence);
    // A slow exchange of a short-lived token can end after the token is of no use to the caller.
    if (!isUsable(token, this.#clock.now(), min)) {
      throw new UpstreamUnavailableError("CyberArk granted a token too short-lived to serve", 1);
    }
    return { token, cache: "upstream" };
  }

  // A table token of the current identity that stays valid long enough is held and served.
  #servedFromTable(
    profile: Profile,
    stored: CachedToken | undefined,
    credentials: ClientCredentials,
    min: number,
    fence: Fence,
  ): VendedToken | undefined {
    if (!stored || stored.cacheKey !== cacheKey(profile, credentials)) return undefined;
    if (!isUsable(stored, this.#clock.now(), min)) return undefined;
    this.#memory.remember(fence, stored, credentials);
    return { token: stored, cache: "table" };
  }

  // Asks CyberArk, then stores the token in the table and memory unless a DELETE came meanwhile.
  async #upstream(
    profile: Profile,
    credentials: ClientCredentials,
    fence: Fence,
  ): Promise<CachedToken> {
    const exchanged = await this.#exchange.obtain(profile, credentials);
    if (this.#memory.isCurrent(fence)) {
      await this.#table.write(profile.name, exchanged.token);
      this.#memory.remember(fence, exchanged.token, exchanged.credentials);
    }
    return exchanged.token;
  }

  // Refresh ahead, under the lease: another instance holding it is already renewing.
  async #renew(profile: Profile, min: number): Promise<void> {
    const fence = this.#memory.fence(profile.name);
    const started = this.#clock.now();
    await this.#lease.tryRun(profile.name, async () => {
      const read = await this.#table.read(profile.name);
      const credentials = await this.#currentCredentials(profile, read, started);
      const stored = read.status === "hit" ? read.token : undefined;
      const served = this.#servedFromTable(profile, stored, credentials, min, fence);
      if (served && !isDueForRenewal(served.token, this.#clock.now(), min)) return;
      await this.#upstream(profile, credentials, fence);
    });
  }
}
