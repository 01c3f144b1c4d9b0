/**
 * In-memory fakes of the core's ports, and a fake clock, for unit tests.
 */
import { cyberArkEndpoints } from "../../functions/adapters/cyberark-endpoints.js";
import {
  admits,
  nextDeletionRecord,
  type StoredView,
  servableUnder,
} from "../../functions/core/admission.js";
import { type Caller, parseCaller } from "../../functions/core/callers.js";
import { ConfigurationError } from "../../functions/core/errors.js";
import { admitSet } from "../../functions/core/live-sets.js";
import type {
  Clock,
  IdentityProvider,
  Logger,
  PlaceAsk,
  PlaceOutcome,
  ProfileEndpoints,
  RevocationRequest,
  SecretSource,
  SecretValue,
  StoredItem,
  TokenPut,
  TokenRequest,
  TokenStore,
  WriteBasis,
} from "../../functions/core/ports.js";
import {
  type Profile,
  type ProfilesConfig,
  parseProfilesConfig,
} from "../../functions/core/profiles.js";
import { NO_SCOPES, type ScopeSet } from "../../functions/core/scope-set.js";
import { MAX_BACK_OFF_MS, MAX_CLOCK_SKEW_MS } from "../../functions/core/timing.js";
import type { CachedToken, TokenGrant } from "../../functions/core/token.js";

/** A clock that moves only when told. */
export class FakeClock implements Clock {
  #now: number;
  constructor(start = Date.parse("2026-11-21T12:00:00Z")) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advanceSeconds(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

/** Secrets by ID; `rotate` makes a new version. */
export class FakeSecrets implements SecretSource {
  readonly reads: string[] = [];
  readonly #values = new Map<string, SecretValue>();

  set(secretId: string, value: unknown, versionId = "v1"): void {
    const secretString = typeof value === "string" ? value : JSON.stringify(value);
    this.#values.set(secretId, { secretString, versionId });
  }

  async read(secretId: string): Promise<SecretValue> {
    this.reads.push(secretId);
    const value = this.#values.get(secretId);
    if (!value)
      throw new ConfigurationError("the secret cannot be read: ResourceNotFoundException");
    return value;
  }
}

/**
 * The key of a scope set's entries in {@link MemoryStore}'s maps: the profile's name for the empty
 * set (as the table keeps today's keys for it), `profile set` for any other.
 */
export function itemKey(profile: string, set: ScopeSet = NO_SCOPES): string {
  return set === NO_SCOPES ? profile : `${profile} ${set}`;
}

/** A profile's own item in {@link MemoryStore}: its last DELETE and its live sets' places. */
export interface ProfileEntry {
  deletedAt?: number;
  live: ReadonlyMap<string, number>;
}

/**
 * A token table in Maps, admitting writes by the same rules as the DynamoDB adapter (`admits`,
 * `admitSet`, a token served only while the profile's DELETE record is the one it was written
 * under, and each DELETE's record `nextDeletionRecord` of the last); `failing` makes every call throw. Token, deletion and lease entries are per scope set
 * ({@link itemKey}); back-offs and profile entries per profile.
 */
export class MemoryStore implements TokenStore {
  readonly items = new Map<string, CachedToken>();
  /** Item key -> the profile's DELETE record the token was written under (absent: none). */
  readonly stamps = new Map<string, number>();
  /** Item key -> when a DELETE emptied its item (until a token replaces it). */
  readonly deletions = new Map<string, number>();
  readonly leases = new Map<string, { owner: string; until: number }>();
  readonly backOffs = new Map<string, number>();
  readonly profiles = new Map<string, ProfileEntry>();
  failing = false;
  gets = 0;
  #deleteGate: Promise<void> | undefined;

  /** Holds the next `delete` or `deleteProfile` until `release` is called, as a slow table would. */
  holdNextDelete(): { release: () => void } {
    let release: () => void = () => {};
    this.#deleteGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { release: () => release() };
  }

  async get(profile: string, set: ScopeSet): Promise<StoredItem> {
    this.gets += 1;
    this.#check();
    const key = itemKey(profile, set);
    const token = this.servable(profile, set);
    const deletedAt = this.deletions.get(key);
    const own: StoredItem = token ? { token } : deletedAt === undefined ? {} : { deletedAt };
    const entry = this.profiles.get(profile);
    if (!entry) return own;
    const liveUntil = entry.live.get(set);
    const record = {
      ...(entry.deletedAt === undefined ? {} : { deletedAt: entry.deletedAt }),
      ...(liveUntil === undefined ? {} : { liveUntil }),
    };
    return { ...own, profile: record };
  }
  /**
   * The set's token a read would serve: none when it was written under another DELETE record of
   * the profile than the current one (that DELETE, or a later one, dropped it).
   */
  servable(profile: string, set: ScopeSet): CachedToken | undefined {
    const key = itemKey(profile, set);
    const token = this.items.get(key);
    const stampedUnder = this.profiles.get(profile)?.deletedAt;
    return token && servableUnder(this.stamps.get(key), stampedUnder) ? token : undefined;
  }
  async put(
    profile: string,
    set: ScopeSet,
    token: CachedToken,
    basis: WriteBasis,
  ): Promise<TokenPut> {
    this.#check();
    const key = itemKey(profile, set);
    const stored = this.items.get(key);
    const deletedAt = this.deletions.get(key);
    const view: StoredView = stored
      ? { kind: "token", cacheKey: stored.cacheKey, issuedAt: stored.issuedAt, lastRefused: false }
      : deletedAt === undefined
        ? { kind: "none" }
        : { kind: "deletion", deletedAt };
    if (!admits(view, token, basis)) return view.kind === "deletion" ? "deleted" : "refused";
    this.items.set(key, token);
    if (basis.profileDeletionRead === undefined) this.stamps.delete(key);
    else this.stamps.set(key, basis.profileDeletionRead);
    this.deletions.delete(key);
    return "stored";
  }
  async takePlace(profile: string, set: ScopeSet, ask: PlaceAsk): Promise<PlaceOutcome> {
    this.#check();
    const entry = this.profiles.get(profile);
    if (entry?.deletedAt !== ask.deletionRead) return { taken: false };
    const live = entry?.live ?? new Map<string, number>();
    const admitted = admitSet(live, set, ask.reserved, ask.now, ask.holdUntil);
    if (!admitted.admitted) return { taken: false, freesAt: admitted.freesAt };
    this.profiles.set(profile, { ...entry, live: admitted.live });
    return { taken: true };
  }
  async acquireLease(
    profile: string,
    set: ScopeSet,
    owner: string,
    now: number,
    until: number,
  ): Promise<boolean> {
    this.#check();
    const key = itemKey(profile, set);
    const lease = this.leases.get(key);
    // As the DynamoDB adapter: a lease later than any taken now could last is an edit.
    if (lease && lease.until >= now && lease.until <= until + MAX_CLOCK_SKEW_MS) return false;
    this.leases.set(key, { owner, until });
    return true;
  }
  async releaseLease(profile: string, set: ScopeSet, owner: string): Promise<void> {
    this.#check();
    const key = itemKey(profile, set);
    if (this.leases.get(key)?.owner === owner) this.leases.delete(key);
  }
  async putBackOff(profile: string, until: number): Promise<void> {
    this.#check();
    const stored = this.backOffs.get(profile) ?? 0;
    // As the DynamoDB adapter: an end no genuine back-off can have is an edit, and is replaced.
    const forged = stored > until + MAX_BACK_OFF_MS + MAX_CLOCK_SKEW_MS;
    this.backOffs.set(profile, forged ? until : Math.max(until, stored));
  }
  async getBackOff(profile: string): Promise<number | undefined> {
    this.#check();
    return this.backOffs.get(profile);
  }
  async deleteProfile(
    profile: string,
    at: number,
    known: readonly ScopeSet[],
  ): Promise<CachedToken[]> {
    this.#check();
    const gate = this.#takeGate();
    if (gate) await gate;
    const placed = [...(this.profiles.get(profile)?.live.keys() ?? [])] as ScopeSet[];
    // The record first, with no places, then each set's item: as the DynamoDB adapter, though
    // here all at once.
    const record = nextDeletionRecord(this.profiles.get(profile)?.deletedAt, at);
    this.profiles.set(profile, { deletedAt: record, live: new Map() });
    const sets = new Set<ScopeSet>([...placed, ...known]);
    const deleted = [...sets].map((set) => this.#drop(itemKey(profile, set), record));
    return deleted.filter((token): token is CachedToken => token !== undefined);
  }
  async delete(profile: string, set: ScopeSet, at: number): Promise<CachedToken | undefined> {
    this.#check();
    const gate = this.#takeGate();
    if (gate) await gate;
    return this.#drop(itemKey(profile, set), at);
  }
  // Without a gate the deletion happens in the call itself, as one step of a simulated table.
  #takeGate(): Promise<void> | undefined {
    const gate = this.#deleteGate;
    this.#deleteGate = undefined;
    return gate;
  }
  #drop(key: string, at: number): CachedToken | undefined {
    const deleted = this.items.get(key);
    this.items.delete(key);
    this.stamps.delete(key);
    this.deletions.set(key, at);
    return deleted;
  }
  #check(): void {
    if (this.failing) {
      const error = new Error("simulated outage");
      error.name = "ProvisionedThroughputExceededException";
      throw error;
    }
  }
}

type Responder = (request: TokenRequest) => TokenGrant | Promise<TokenGrant>;

/** A scripted identity provider: answers with `next` responders, then with `fallback`. */
export class FakeIdentity implements IdentityProvider {
  readonly requests: TokenRequest[] = [];
  readonly next: Responder[] = [];
  serial = 0;
  fallback: Responder = () => {
    this.serial += 1;
    return { accessToken: `token-${this.serial}`, expiresIn: 3600 };
  };

  /** A CyberArk tenant's layout, as the real client resolves it. */
  endpoints(profile: Profile): ProfileEndpoints {
    return cyberArkEndpoints(profile);
  }

  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    this.requests.push(request);
    const responder = this.next.shift() ?? this.fallback;
    return responder(request);
  }

  /** Every revocation asked for, in order (failed ones included). */
  readonly revocations: RevocationRequest[] = [];
  /** Scripted revocation outcomes, in order; absent: the revocation succeeds. */
  readonly nextRevocations: ((request: RevocationRequest) => void | Promise<void>)[] = [];

  async revokeToken(request: RevocationRequest): Promise<void> {
    this.revocations.push(request);
    await this.nextRevocations.shift()?.(request);
  }
}

/** Collects log calls. */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  info(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: "info", message, attributes });
  }
  warn(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: "warn", message, attributes });
  }
  error(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ level: "error", message, attributes });
  }
}

export const ACCOUNT = "111122223333";
export const CI_ROLE = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/run-42`;
export const ADMIN_ROLE = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
export const STRANGER = "arn:aws:sts::999988887777:assumed-role/ci-deployer/run-1";

/** The contract's example configuration, tenants at `tenantUrl`. */
export function exampleConfig(tenantUrl = "https://abc1234.id.cyberark.cloud"): ProfilesConfig {
  return parseProfilesConfig(
    {
      profiles: {
        "ci-deployer": {
          tenantUrl,
          secretId: "cyberark/ci-deployer",
          allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/ci-*`],
        },
        "reports-app": {
          tenantUrl,
          secretId: "cyberark/reports",
          applicationId: "reports_api",
          scope: "ReadUserProfile",
          clientAuth: "basic",
          allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/reports-lambda`, "444455556666"],
        },
      },
      adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
    },
    { allowLoopbackHttp: true },
  );
}

/** Parses a caller ARN, failing the test when it does not parse. */
export function caller(arn: string): Caller {
  const parsed = parseCaller(arn);
  if (!parsed) throw new Error(`not a caller ARN: ${arn}`);
  return parsed;
}
