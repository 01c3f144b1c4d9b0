/**
 * The vending rules: who gets which token, from which cache level, and when CyberArk is asked.
 * Read `getToken` top to bottom: authorize, memory, then the refresher (record, lease, exchange).
 * This class only wires the levels and decides between them; every dependency is a port.
 */
import { type CallerPattern, isAllowed } from "./callers.js";
import { Deletion } from "./deletion.js";
import {
  AccessDeniedError,
  logReason,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "./errors.js";
import { TokenExchange } from "./exchange.js";
import { LeasedExchange } from "./leased-exchange.js";
import { Ledger, type Revoked } from "./ledger.js";
import { METRICS } from "./metrics.js";
import {
  type Clock,
  type IdentityProvider,
  type IssuedTokenStore,
  type Logger,
  type Metrics,
  NO_METRICS,
  type ProfileStore,
  type SecretSource,
} from "./ports.js";
import { ProfileSlots } from "./profile-slot.js";
import type { Profile, ProfilesConfig } from "./profiles.js";
import { SharedRecords } from "./records.js";
import { Refresher } from "./refresh.js";
import { RefreshAhead } from "./refresh-ahead.js";
import { tooShort } from "./refusals.js";
import { askFor } from "./scope-ceilings.js";
import type { ScopeSet } from "./scope-set.js";
import { WORST_BEFORE_LEASE_MS, WORST_REQUEST_MS } from "./timing.js";
import { isUsable } from "./token.js";
import type { InvalidateQuery, RenewalReport, TokenQuery, VendedToken } from "./vendor-types.js";

export type {
  CacheLevel,
  InvalidateQuery,
  RenewalReport,
  TokenQuery,
  VendedToken,
} from "./vendor-types.js";

/** Everything {@link TokenVendor} depends on. */
export interface VendorDependencies {
  readonly config: ProfilesConfig;
  readonly secrets: SecretSource;
  /** The profiles' shared records (one item per profile). */
  readonly store: ProfileStore;
  /** Where issued tokens are remembered for a `DELETE` to revoke. @default none: only the dropped */
  readonly issued?: IssuedTokenStore;
  readonly identity: IdentityProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default no metrics */
  readonly metrics?: Metrics;
  /** Waits between polls of the table. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

// Unknown profile names are the caller's text: never a metric dimension.
const UNKNOWN_PROFILE = "(unknown)";

/** Vends tokens for the configured profiles. One instance per function instance. */
export class TokenVendor {
  readonly #config: ProfilesConfig;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #slots: ProfileSlots;
  readonly #refresher: Refresher;
  readonly #ahead: RefreshAhead;
  readonly #deletion: Deletion;

  constructor(deps: VendorDependencies) {
    const { clock, logger, identity } = deps;
    const metrics = deps.metrics ?? NO_METRICS;
    const now = () => clock.now();
    this.#config = deps.config;
    this.#clock = clock;
    this.#logger = logger;
    this.#metrics = metrics;
    const slots = new ProfileSlots({ secrets: deps.secrets, clock });
    this.#slots = slots;
    const records = new SharedRecords(deps.store, now, logger);
    const exchange = new TokenExchange({ slots, identity, clock, metrics, logger });
    const ledger = new Ledger(deps.issued, identity, now, logger);
    this.#deletion = new Deletion({ slots, records, ledger, logger, now });
    const leased = new LeasedExchange({ records, exchange, ledger, clock, logger });
    const sleep = deps.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const random = deps.random ?? Math.random;
    this.#refresher = new Refresher({
      slots,
      records,
      leased,
      clock,
      logger,
      metrics,
      sleep,
      random,
    });
    this.#ahead = new RefreshAhead(slots, clock, logger);
  }

  /**
   * Returns a token of the profile for the asked scope set, valid for at least the (capped)
   * `min_validity`. Each scope set is its own cache entry (`profile-slots.ts`, `profile-record.ts`).
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not allowed.
   */
  async getToken(query: TokenQuery): Promise<VendedToken> {
    const profile = this.#authorize(query.profile, query, (p) => p.allowedCallers);
    const set = this.#askFor(profile, query);
    const min = query.minValiditySeconds;
    const { memory, credentials } = this.#slots.of(profile, set);
    const hit = memory.hit(credentials.peek(), min);
    const vended = hit
      ? { token: hit, cache: "memory" as const, asked: set }
      : await this.#miss(profile, set, min, query);
    this.#metrics.add(METRICS.vended, profile.name, 1, vended.cache);
    // Passed inline: a named closure costs a property definition per request under tsx.
    this.#ahead.consider(profile, set, vended.token, min, () =>
      this.#refresher.renewAhead(profile, set, min),
    );
    return vended;
  }

  /**
   * Drops the profile's cached tokens, every scope set's: from the table at once (one write that
   * moves the record to its next epoch), from this instance's memory for good (work in flight
   * cannot put them back), from other instances within their recheck, and at CyberArk (revoked)
   * for a profile with an `applicationId`: exactly the tokens of the epochs and lives it ended
   * (`deletion.ts`, `ledger.ts`). A token obtained under the new epoch is never its business.
   * @throws {AccessDeniedError} when the profile does not exist or the caller is not an admin.
   * @throws {UpstreamUnavailableError} when the table could not drop them.
   */
  async invalidate(query: InvalidateQuery): Promise<Revoked> {
    const profile = this.#authorize(query.profile, query, () => this.#config.adminCallers);
    return this.#deletion.run(profile);
  }

  /** Renews every `prewarm` profile whose table token is missing or half spent. Never throws. */
  async renewScheduled(): Promise<RenewalReport> {
    const report: RenewalReport = { renewed: 0, fresh: 0, busy: 0, failed: 0 };
    const prewarmed = [...this.#config.profiles.values()].filter((profile) => profile.prewarm);
    await Promise.all(
      prewarmed.map(async (profile) => {
        try {
          report[await this.#refresher.renewOnSchedule(profile)] += 1;
        } catch (error) {
          report.failed += 1;
          this.#logger.warn("scheduled renewal failed; retried on the next run", {
            profile: profile.name,
            reason: logReason(error),
          });
        }
      }),
    );
    return report;
  }

  /** The background renewal of a set (the default) of `profile` under way (tests await it). */
  renewal(profile: string, set?: ScopeSet): Promise<void> | undefined {
    const configured = this.#config.profiles.get(profile);
    return configured && this.#slots.of(configured, set ?? configured.defaultScopes).renewal;
  }

  #authorize(
    name: string,
    query: { readonly caller: TokenQuery["caller"] },
    patternsOf: (profile: Profile) => readonly CallerPattern[],
  ): Profile {
    const profile = this.#config.profiles.get(name);
    if (!profile || !isAllowed(query.caller, patternsOf(profile))) {
      this.#metrics.add(METRICS.denied, profile?.name ?? UNKNOWN_PROFILE, 1);
      throw new AccessDeniedError(
        profile
          ? `caller is not allowed for profile "${name}"`
          : `profile "${name}" does not exist`,
      );
    }
    return profile;
  }

  // The scope set this request asks for, within the caller's ceiling (`scope-ceilings.ts`); a
  // refused ask is counted as a denial like any other.
  #askFor(profile: Profile, query: TokenQuery): ScopeSet {
    try {
      return askFor(profile, query.caller, query.scope);
    } catch (error) {
      if (error instanceof AccessDeniedError) this.#metrics.add(METRICS.denied, profile.name, 1);
      throw error;
    }
  }

  async #miss(profile: Profile, set: ScopeSet, min: number, q: TokenQuery): Promise<VendedToken> {
    const deadline = this.#clock.now() + WORST_REQUEST_MS;
    const refresh = () => this.#refresher.refresh(profile, set, min, deadline, q.caller);
    try {
      const shared = await this.#slots.of(profile, set).fly(refresh);
      // A flight started for a smaller min_validity may bring a token too short for this caller:
      // it then starts its own (or joins one another such caller just started, whose deadline is
      // no later), within this request's deadline.
      if (isUsable(shared.token, this.#clock.now(), min)) return shared;
      if (this.#clock.now() + WORST_BEFORE_LEASE_MS > deadline) throw tooShort();
      const own = await this.#slots.of(profile, set).fly(refresh);
      if (isUsable(own.token, this.#clock.now(), min)) return own;
      throw tooShort();
    } catch (error) {
      // CyberArk failed, or refused something other than the credentials (maybe for a flight that
      // wanted more than this caller): a recently confirmed token of the current identity that
      // lasts long enough for this caller beats an error. A refusal of the credentials themselves
      // (invalid_client, after the rotation retry) means the identity is disowned: no fallback.
      const fallsBack =
        error instanceof UpstreamUnavailableError ||
        (error instanceof UpstreamRejectedError && !error.isInvalidClient);
      if (!fallsBack) throw error;
      const fallback = await this.#refresher.fallback(profile, set, min, deadline);
      if (fallback) return fallback;
      throw error;
    }
  }
}
