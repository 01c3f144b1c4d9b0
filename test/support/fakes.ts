/**
 * In-memory fakes of the core's ports, and a fake clock, for unit tests.
 */
import { randomUUID } from "node:crypto";
import { cyberArkEndpoints } from "../../functions/adapters/cyberark-endpoints.js";
import { type Caller, parseCaller } from "../../functions/core/callers.js";
import { ConfigurationError } from "../../functions/core/errors.js";
import type {
  Clock,
  DeletedRecord,
  IdentityProvider,
  Logger,
  ProfileEndpoints,
  ProfileStore,
  RecordRead,
  RevocationRequest,
  SecretSource,
  SecretValue,
  StoredToken,
  TokenRequest,
  TokenStamp,
} from "../../functions/core/ports.js";
import {
  deleteTokens,
  emptyRecord,
  expiryOf,
  type ProfileRecord,
  type SetEntry,
} from "../../functions/core/profile-record.js";
import {
  type Profile,
  type ProfilesConfig,
  parseProfilesConfig,
} from "../../functions/core/profiles.js";
import { NO_SCOPES, type ScopeSet, setTag } from "../../functions/core/scope-set.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
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
 * The key tests name a scope set's entries by: the profile's name for the empty set, `profile set`
 * for any other ({@link MemoryStore.items}, {@link MemoryStore.leases}).
 */
export function itemKey(profile: string, set: ScopeSet = NO_SCOPES): string {
  return set === NO_SCOPES ? profile : `${profile} ${set}`;
}

function ofKey(key: string): { profile: string; tag: string } {
  const space = key.indexOf(" ");
  if (space < 0) return { profile: key, tag: setTag(NO_SCOPES) };
  return { profile: key.slice(0, space), tag: setTag(key.slice(space + 1) as ScopeSet) };
}

/** A token as the memory store holds it: the token, and the stamp and set it was sealed with. */
export class MemoryToken implements StoredToken {
  readonly token: CachedToken;
  readonly tag: string;
  readonly stamp: TokenStamp;
  /** Whether it opens (its seal agrees with the record that holds it). */
  readonly opens: boolean;
  constructor(token: CachedToken, tag: string, stamp: TokenStamp, opens = true) {
    this.token = token;
    this.tag = tag;
    this.stamp = stamp;
    this.opens = opens;
  }
  async open(): Promise<CachedToken | undefined> {
    return this.opens ? this.token : undefined;
  }
}

type ProfileItem = ProfileRecord<StoredToken>;

/**
 * The shared records in a Map, with exactly the DynamoDB store's rules (`functions/core/ports.ts`,
 * `ProfileStore`): a write succeeds iff the incarnation and version are the ones read (or there is
 * still no item); a `DELETE` is unconditional (`deleteTokens`); a token opens only when its sealed
 * set, epoch and incarnation agree with the record holding it. With a clock, an item vanishes once
 * its TTL has passed, as DynamoDB's TTL would (here at once): a write's TTL is `expiryOf(next)`, or
 * the end a recent `DELETE` set when that is later (capped at what a `DELETE` now would set).
 * `failing` makes every call throw.
 */
export class MemoryStore implements ProfileStore {
  readonly records = new Map<string, ProfileItem>();
  readonly #ttl = new Map<string, number>();
  readonly #clock: Clock | undefined;
  failing = false;
  /** Reads answered. */
  gets = 0;
  /** Writes asked (conditional ones, lost or not). */
  writes = 0;
  #deleteGate: Promise<void> | undefined;

  constructor(clock?: Clock) {
    this.#clock = clock;
  }

  /** Holds the next `delete` until `release` is called, as a slow table would. */
  holdNextDelete(): { release: () => void } {
    let release: () => void = () => {};
    this.#deleteGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { release: () => release() };
  }

  async read(profile: string): Promise<RecordRead> {
    this.gets += 1;
    this.#check();
    return { record: this.#opened(this.record(profile)) };
  }

  async write(profile: string, read: RecordRead, next: ProfileItem): Promise<boolean> {
    this.writes += 1;
    this.#check();
    const current = this.#live(profile);
    const seen = read.record;
    const same =
      seen.incarnation === undefined
        ? current === undefined
        : current?.incarnation === seen.incarnation && current.version === seen.version;
    if (!same) return false;
    if (next.incarnation === undefined) throw new Error("a write must name its incarnation");
    if (seen.incarnation !== undefined && next.incarnation !== seen.incarnation) {
      throw new Error("a write must keep the incarnation it read");
    }
    // The end a recent DELETE set is carried over (capped at what a DELETE now would set), as the
    // DynamoDB store does, so a write soon after a DELETE does not let the item vanish at once.
    const now = this.#clock?.now() ?? 0;
    const kept = Math.min(this.#ttl.get(profile) ?? 0, now + MAX_BACK_OFF_MS + LEASE_MS);
    this.#put(profile, { ...next, version: seen.version + 1 }, Math.max(expiryOf(next), kept));
    return true;
  }

  async delete(profile: string, now: number): Promise<DeletedRecord> {
    this.#check();
    const gate = this.#deleteGate;
    this.#deleteGate = undefined;
    if (gate) await gate;
    const current = this.#live(profile);
    const incarnation = current?.incarnation ?? randomUUID();
    const before = current ?? { ...emptyRecord<StoredToken>(), incarnation };
    const dropped = [...before.sets.values()].flatMap((entry) =>
      entry.token ? [(entry.token.token as MemoryToken).token] : [],
    );
    const next = { ...deleteTokens(before), incarnation, version: before.version + 1 };
    const ttl = Math.max(expiryOf(next), now + MAX_BACK_OFF_MS + LEASE_MS);
    this.#put(profile, next, ttl);
    return { incarnation, epoch: before.epoch, dropped };
  }

  fresh(_profile: string, tag: string, token: CachedToken, stamp: TokenStamp): StoredToken {
    return new MemoryToken(token, tag, stamp);
  }

  /** The profile's record as stored (the empty record when there is no item). */
  record(profile: string): ProfileItem {
    return this.#live(profile) ?? emptyRecord();
  }

  /** Replaces one set's entry of the profile's record, as another writer (or an editor) would. */
  setEntry(profile: string, tag: string, entry: SetEntry<StoredToken> | undefined): void {
    const record = this.#live(profile) ?? {
      ...emptyRecord<StoredToken>(),
      incarnation: randomUUID(),
    };
    const sets = new Map(record.sets);
    if (entry) sets.set(tag, entry);
    else sets.delete(tag);
    const next = { ...record, sets, version: record.version + 1 };
    this.#put(profile, next, Math.max(expiryOf(next), this.#ttl.get(profile) ?? 0));
  }

  /** Changes the profile's record as another writer would (a new version). */
  change(profile: string, change: (record: ProfileItem) => ProfileItem): void {
    const record = this.#live(profile) ?? {
      ...emptyRecord<StoredToken>(),
      incarnation: randomUUID(),
    };
    const next = { ...change(record), version: record.version + 1 };
    this.#put(profile, next, Math.max(expiryOf(next), this.#ttl.get(profile) ?? 0));
  }

  /**
   * The set's tokens by {@link itemKey}, whatever their epoch (what the item holds), and leases:
   * views over the records for tests that look inside.
   */
  readonly items = {
    get: (key: string): CachedToken | undefined => {
      const { profile, tag } = ofKey(key);
      const token = this.record(profile).sets.get(tag)?.token?.token;
      return token && (token as MemoryToken).token;
    },
    has: (key: string): boolean => this.items.get(key) !== undefined,
    /** Stores `token` for the set as another instance's write would: of the record's life. */
    set: (key: string, token: CachedToken): void => {
      const { profile, tag } = ofKey(key);
      const record = this.record(profile);
      const incarnation = record.incarnation ?? randomUUID();
      if (record.incarnation === undefined) this.change(profile, (r) => ({ ...r, incarnation }));
      const stamp = { incarnation, epoch: record.epoch };
      const stored = new MemoryToken(token, tag, stamp);
      const entry = { epoch: record.epoch, expiresAt: token.expiresAt, token: stored };
      this.setEntry(profile, tag, { ...this.record(profile).sets.get(tag), token: entry });
    },
    delete: (key: string): void => {
      const { profile, tag } = ofKey(key);
      const { token: _dropped, ...rest } = this.record(profile).sets.get(tag) ?? {};
      this.setEntry(profile, tag, rest);
    },
  };

  readonly leases = ((store: MemoryStore) => ({
    get: (key: string) => {
      const { profile, tag } = ofKey(key);
      return store.record(profile).sets.get(tag)?.lease;
    },
    set: (key: string, lease: { owner: string; until: number }): void => {
      const { profile, tag } = ofKey(key);
      store.setEntry(profile, tag, { ...store.record(profile).sets.get(tag), lease });
    },
    /** How many leases the records hold, ended ones included. */
    delete: (key: string): void => {
      const { profile, tag } = ofKey(key);
      const { lease: _gone, ...rest } = store.record(profile).sets.get(tag) ?? {};
      store.setEntry(profile, tag, rest);
    },
    get size(): number {
      return store.leaseCount();
    },
  }))(this);

  /** The set's token a read would serve (of the record's epoch; expiry is the reader's). */
  servable(profile: string, set: ScopeSet): CachedToken | undefined {
    const record = this.record(profile);
    const entry = record.sets.get(setTag(set))?.token;
    return entry && entry.epoch === record.epoch ? (entry.token as MemoryToken).token : undefined;
  }

  /** How many leases the profiles' records hold, ended ones included. */
  leaseCount(): number {
    let count = 0;
    for (const record of this.records.values()) {
      for (const entry of record.sets.values()) if (entry.lease) count += 1;
    }
    return count;
  }

  // The record as a read sees it: each token opens only when its seal agrees with the record.
  #opened(record: ProfileItem): ProfileItem {
    const sets = new Map<string, SetEntry<StoredToken>>();
    for (const [tag, entry] of record.sets) {
      const held = entry.token;
      if (!held) {
        sets.set(tag, entry);
        continue;
      }
      const sealed = held.token as MemoryToken;
      const agrees =
        sealed.tag === tag &&
        sealed.stamp.epoch === held.epoch &&
        sealed.stamp.incarnation === record.incarnation &&
        sealed.token.expiresAt === held.expiresAt;
      const view = new MemoryToken(sealed.token, sealed.tag, sealed.stamp, agrees);
      sets.set(tag, { ...entry, token: { ...held, token: view } });
    }
    return { ...record, sets };
  }

  #live(profile: string): ProfileItem | undefined {
    const record = this.records.get(profile);
    const ttl = this.#ttl.get(profile) ?? Number.POSITIVE_INFINITY;
    if (record && this.#clock && ttl <= this.#clock.now()) {
      this.records.delete(profile);
      this.#ttl.delete(profile);
      return undefined;
    }
    return record;
  }

  #put(profile: string, record: ProfileItem, ttl: number): void {
    this.records.set(profile, record);
    this.#ttl.set(profile, ttl);
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

  /** Asks the request's guard before its one attempt, as the real client does before each. */
  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    const { beforeAttempt, ...sent } = request;
    await beforeAttempt?.(1);
    this.requests.push(sent);
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
