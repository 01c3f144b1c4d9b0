/**
 * In-memory fakes of the core's ports, and a fake clock, for unit tests.
 */
import { type Caller, parseCaller } from "../../functions/core/callers.js";
import { ConfigurationError } from "../../functions/core/errors.js";
import type {
  Clock,
  IdentityProvider,
  Logger,
  RevocationRequest,
  SecretSource,
  SecretValue,
  StoredItem,
  TokenRequest,
  TokenStore,
  WriteBasis,
} from "../../functions/core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
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

/** A token table in a Map, with the same conditional-write rules; `failing` makes every call throw. */
export class MemoryStore implements TokenStore {
  readonly items = new Map<string, CachedToken>();
  /** Profile -> when a DELETE emptied its item (until a token replaces it). */
  readonly deletions = new Map<string, number>();
  readonly leases = new Map<string, { owner: string; until: number }>();
  readonly backOffs = new Map<string, number>();
  failing = false;
  gets = 0;
  #deleteGate: Promise<void> | undefined;

  /** Holds the next `delete` until `release` is called, as a slow table would. */
  holdNextDelete(): { release: () => void } {
    let release: () => void = () => {};
    this.#deleteGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { release: () => release() };
  }

  async get(profile: string): Promise<StoredItem> {
    this.gets += 1;
    this.#check();
    const token = this.items.get(profile);
    const deletedAt = this.deletions.get(profile);
    return token ? { token } : deletedAt === undefined ? {} : { deletedAt };
  }
  async put(profile: string, token: CachedToken, basis: WriteBasis): Promise<boolean> {
    this.#check();
    const deletedAt = this.deletions.get(profile);
    const deletedSince = deletedAt !== undefined && deletedAt !== basis.deletionRead;
    const stored = this.items.get(profile);
    const supersedes =
      !stored ||
      (stored.cacheKey === token.cacheKey
        ? stored.issuedAt < token.issuedAt
        : stored.issuedAt < basis.credentialsReadAt);
    if (deletedSince || !supersedes) return false;
    this.items.set(profile, token);
    this.deletions.delete(profile);
    return true;
  }
  async acquireLease(profile: string, owner: string, now: number, until: number): Promise<boolean> {
    this.#check();
    const lease = this.leases.get(profile);
    // As the DynamoDB adapter: a lease later than any taken now could last is an edit.
    if (lease && lease.until >= now && lease.until <= until + MAX_CLOCK_SKEW_MS) return false;
    this.leases.set(profile, { owner, until });
    return true;
  }
  async releaseLease(profile: string, owner: string): Promise<void> {
    this.#check();
    if (this.leases.get(profile)?.owner === owner) this.leases.delete(profile);
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
  async delete(profile: string, at: number): Promise<CachedToken | undefined> {
    this.#check();
    const gate = this.#deleteGate;
    this.#deleteGate = undefined;
    if (gate) await gate;
    const deleted = this.items.get(profile);
    this.items.delete(profile);
    this.deletions.set(profile, at);
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
