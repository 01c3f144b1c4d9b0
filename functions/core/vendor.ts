/**
 * The vending rules: who gets which token, from which cache level, and when CyberArk is asked.
 * Read `getToken` top to bottom: authorize, memory, table, lease, exchange. Each level is its
 * own module; this class only decides between them. Every dependency is a port, so every decision
 * is tested with fakes and a fake clock.
 */
import { SingleFlight } from "../shared/single-flight.js";
import { type Caller, type CallerPattern, isAllowed } from "./callers.js";
import { type ClientCredentials, CredentialsCache } from "./credentials.js";
import { AccessDeniedError } from "./errors.js";
import { TokenExchange } from "./exchange.js";
import { type Fence, MemoryCache } from "./memory-cache.js";
import type { Clock, IdentityProvider, Logger, SecretSource, TokenStore } from "./ports.js";
import type { Profile, ProfilesConfig } from "./profiles.js";
import { RefreshAhead } from "./refresh-ahead.js";
import { RefreshLease } from "./refresh-lease.js";
import { TableCache } from "./table-cache.js";
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
   */
  async invalidate(query: InvalidateQuery): Promise<void> {
    const profile = this.#authorize(query.profile, query.caller, () => this.#config.adminCallers);
    this.#memory.invalidate(profile.name);
    this.#flights.forget(profile.name);
    this.#exchange.forget(profile.name);
    this.#ahead.forget(profile.name);
    this.#credentials.forget(profile.secretId);
    await this.#table.delete(profile.name);
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

  async #refreshFor(profile: Profile, min: number): Promise<VendedToken> {
    const refresh = () => this.#refresh(profile, min);
    const shared = await this.#flights.run(profile.name, refresh);
    // A flight started by a caller with a smaller min_validity may return a token too short for
    // this one; then this caller starts its own (which goes upstream at most once).
    if (isUsable(shared.token, this.#clock.now(), min)) return shared;
    return this.#flights.run(profile.name, refresh);
  }

  async #refresh(profile: Profile, min: number): Promise<VendedToken> {
    const fence = this.#memory.fence(profile.name);
    let credentials = await this.#credentials.get(profile.secretId);
    const held = this.#memory.held(profile.name);
    const read = await this.#table.read(profile.name);

    // The table could not confirm or deny what we hold. The token is still good for this caller,
    // so keep serving it rather than ask CyberArk, and ask the table again at the next recheck.
    if (read.status === "unavailable" && held?.credentials === credentials) {
      if (isUsable(held.token, this.#clock.now(), min)) {
        this.#memory.remember(fence, held.token, held.credentials);
        return { token: held.token, cache: "memory" };
      }
    }

    // The table disagrees with what this instance believed: an admin DELETE (item gone while we
    // held one in memory) or another instance that already saw a rotated secret (other key).
    // Either way our credentials may be stale, so read them again before deciding.
    this.#memory.drop(profile.name);
    const stored = read.status === "hit" ? read.token : undefined;
    const disagrees = stored
      ? stored.cacheKey !== cacheKey(profile, credentials)
      : held !== undefined && read.status === "miss";
    if (disagrees) credentials = await this.#credentials.get(profile.secretId, { fresh: true });

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

  // Another instance may have finished between our read and our lease, so read once more.
  async #refreshUnderLease(
    profile: Profile,
    credentials: ClientCredentials,
    min: number,
    fence: Fence,
  ): Promise<VendedToken> {
    const stored = await this.#table.token(profile.name);
    return (
      this.#servedFromTable(profile, stored, credentials, min, fence) ?? {
        token: await this.#upstream(profile, credentials, fence),
        cache: "upstream",
      }
    );
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
    const credentials = await this.#credentials.get(profile.secretId);
    await this.#lease.tryRun(profile.name, async () => {
      const stored = await this.#table.token(profile.name);
      const served = this.#servedFromTable(profile, stored, credentials, min, fence);
      if (served && !isDueForRenewal(served.token, this.#clock.now(), min)) return;
      await this.#upstream(profile, credentials, fence);
    });
  }
}
