/**
 * The simulated outside world the vendor instances share: one token table (the unit tests'
 * {@link MemoryStore}, whose conditional writes the ProfileStore contract suite keeps equal to the
 * DynamoDB adapter's: one record per profile), a secret source whose secrets rotate, a CyberArk
 * tenant that issues tokens and rejects a rotated secret after a grace period, and fault episodes
 * for all three. CyberArk is reached as the real identity client reaches it: up to three attempts,
 * the request's guard asked before each.
 *
 * Each instance gets its own ports over this world. Every port call is a scheduler call: its
 * effect (the table's conditional write, CyberArk's answer) happens atomically when the scheduler
 * completes it, and a fault is decided then, as a real service would decide it.
 */
import { cyberArkEndpoints } from "../../functions/adapters/cyberark-endpoints.js";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import type {
  IdentityProvider,
  ProfileStore,
  SecretSource,
  SecretValue,
  TokenRequest,
} from "../../functions/core/ports.js";
import { NO_SCOPES, type ScopeSet, setTag } from "../../functions/core/scope-set.js";
import {
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
  WORST_AWS_CALL_MS,
  WORST_TABLE_CALL_MS,
} from "../../functions/core/timing.js";
import type { CachedToken, TokenGrant } from "../../functions/core/token.js";
import { itemKey, MemoryStore, type MemoryToken } from "../support/fakes.js";
import type { Checker } from "./invariants.js";
import type { Latency, Prng, Scheduler } from "./scheduler.js";
import { fp, type Trace } from "./trace.js";

/** How long CyberArk still accepts a replaced secret: the rotation's overlap. */
export const ROTATION_GRACE_MS = 90_000;

const TABLE_ITEM: Latency = { low: 3, high: 30, worst: WORST_TABLE_CALL_MS };
const TABLE_LEASE: Latency = { low: 3, high: 20, worst: WORST_AWS_CALL_MS };
const SECRET_READ: Latency = { low: 5, high: 40, worst: WORST_AWS_CALL_MS };
const TOKEN_ATTEMPT: Latency = { low: 80, high: 600, worst: IDENTITY_ATTEMPT_TIMEOUT_MS };

/** What goes wrong at CyberArk during an upstream episode. */
export type UpstreamFault = "timeout" | "unavailable" | "throttled" | "rejected" | "broader";

/** A period during which calls fail with probability `rate`. */
export interface Episode {
  readonly from: number;
  readonly to: number;
  readonly rate: number;
}

/** An upstream episode, for one profile or all. */
export interface UpstreamEpisode extends Episode {
  readonly fault: UpstreamFault;
  readonly profile: string | undefined;
}

interface SimProfile {
  readonly name: string;
  readonly secretId: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly versions: { readonly id: string; readonly secret: string; replacedAt?: number }[];
  lifetimeSeconds: number;
}

/** The ports one instance uses. */
export interface InstancePorts {
  readonly secrets: SecretSource;
  readonly store: ProfileStore;
  readonly identity: IdentityProvider;
  readonly sleep: (ms: number) => Promise<void>;
}

/** The shared world. */
export class World {
  readonly table = new MemoryStore();
  readonly upstreamEpisodes: UpstreamEpisode[] = [];
  readonly storeEpisodes: Episode[] = [];
  readonly secretEpisodes: Episode[] = [];
  upstreamRequests = 0;
  /** Back-offs recorded in the table (writes that landed). */
  backOffsRecorded = 0;
  readonly #profiles = new Map<string, SimProfile>();
  /** The scope sets each profile is asked for (the checker names a set's entry by it). */
  readonly #sets = new Map<string, readonly ScopeSet[]>();
  readonly #scheduler: Scheduler;
  readonly #random: Prng;
  readonly #trace: Trace;
  #checker: Checker | undefined;
  #serial = 0;

  constructor(scheduler: Scheduler, random: Prng, trace: Trace) {
    this.#scheduler = scheduler;
    this.#random = random;
    this.#trace = trace;
  }

  /** Connects the checker the world reports to. */
  observe(checker: Checker): void {
    this.#checker = checker;
  }

  /** Adds a profile's tenant side: its secret and the lifetime CyberArk grants. */
  addProfile(
    name: string,
    secretId: string,
    scope: string | undefined,
    lifetimeSeconds: number,
  ): void {
    this.#profiles.set(name, {
      name,
      secretId,
      clientId: `svc-${name}@example.com`,
      scope,
      versions: [{ id: "v1", secret: `${name}-secret-1` }],
      lifetimeSeconds,
    });
  }

  /** The scope sets the profile is asked for. */
  setSets(profile: string, sets: readonly ScopeSet[]): void {
    this.#sets.set(profile, sets);
  }

  /** The secret value to seed the profile's secret with. */
  secretValue(profile: string): SecretValue {
    const p = this.#profile(profile);
    const current = p.versions.at(-1) ?? { id: "v0", secret: "" };
    return {
      secretString: JSON.stringify({ client_id: p.clientId, client_secret: current.secret }),
      versionId: current.id,
    };
  }

  /** The profile's current secret version. */
  currentVersion(profile: string): string {
    return this.#profile(profile).versions.at(-1)?.id ?? "v0";
  }

  /** The lifetime CyberArk grants the profile now. */
  lifetimeOf(profile: string): number {
    return this.#profile(profile).lifetimeSeconds;
  }

  /** Rotates the profile's secret: a new version, the old one accepted for the grace period. */
  rotate(profile: string): void {
    const p = this.#profile(profile);
    const old = p.versions.at(-1);
    const id = `v${p.versions.length + 1}`;
    if (old) old.replacedAt = this.#scheduler.clock.now();
    p.versions.push({ id, secret: `${profile}-secret-${p.versions.length + 1}` });
    this.#trace.add(this.#now(), "world", `rotate ${profile} secret ${old?.id} -> ${id}`);
    if (old) this.#checker?.rotated(profile, old.id);
  }

  /** The tenant grants `seconds` from now on. */
  setLifetime(profile: string, seconds: number): void {
    this.#profile(profile).lifetimeSeconds = seconds;
    this.#trace.add(this.#now(), "world", `tenant grants ${profile} ${seconds}s tokens from now`);
  }

  /** One instance's ports. */
  portsFor(instance: number): InstancePorts {
    return {
      secrets: { read: (secretId) => this.#readSecret(instance, secretId) },
      store: this.#storeFor(instance),
      identity: {
        endpoints: cyberArkEndpoints,
        requestToken: (request) => this.#requestToken(instance, request),
        // DELETE's revocation is not what the simulation explores: CyberArk accepts it at once.
        revokeToken: async () => {},
      },
      // A timer fires on time: the timing budget counts each pause at its length.
      sleep: (ms) => this.#scheduler.call(instance, ms, ms, () => undefined),
    };
  }

  /** A short description of a token for the trace: fingerprint, secret version, time left. */
  describe(token: CachedToken | undefined): string {
    if (!token) return "none";
    const info = this.#checker?.tokens.get(token.accessToken);
    const left = Math.floor((token.expiresAt - this.#now()) / 1000);
    return `${fp(token.accessToken)} (${info?.version ?? "?"}, ${left}s left)`;
  }

  #readSecret(instance: number, secretId: string): Promise<SecretValue> {
    const profile = [...this.#profiles.values()].find((p) => p.secretId === secretId);
    return this.#scheduler.call(
      instance,
      this.#scheduler.sample(SECRET_READ),
      SECRET_READ.worst,
      () => {
        if (!profile) throw new Error(`no simulated secret ${secretId}`);
        if (this.#failing(this.secretEpisodes)) {
          this.#checker?.secretFault();
          this.#trace.add(this.#now(), `i${instance}`, `secret ${profile.name} -> FAILED`);
          throw new UpstreamUnavailableError({
            dependency: "secrets",
            kind: "failed",
            detail: "Secrets Manager failed: ThrottlingException",
            retryAfterSeconds: 5,
          });
        }
        const value = this.secretValue(profile.name);
        this.#trace.add(
          this.#now(),
          `i${instance}`,
          `secret ${profile.name} -> ${value.versionId}`,
        );
        return value;
      },
    );
  }

  // As the identity client does: up to three attempts, retrying timeouts and plain failures after
  // a short pause, the request's guard asked before EVERY attempt.
  async #requestToken(instance: number, request: TokenRequest): Promise<TokenGrant> {
    let firstSentAt: number | undefined;
    for (let attempt = 1; ; attempt += 1) {
      await request.beforeAttempt?.(attempt);
      firstSentAt ??= this.#now();
      try {
        return await this.#attempt(instance, request, firstSentAt);
      } catch (error) {
        const retryable =
          error instanceof UpstreamUnavailableError && error.backOffSeconds === undefined;
        if (!retryable || attempt >= IDENTITY_MAX_ATTEMPTS) throw error;
        const pause = this.#random.between(0, IDENTITY_MAX_BACKOFF_MS);
        await this.#scheduler.call(instance, pause, IDENTITY_MAX_BACKOFF_MS, () => undefined);
      }
    }
  }

  // One attempt. A token's life counts from the exchange's first attempt (`firstSentAt`), as the
  // vendor counts it: the spacing of requests is judged by the same clock.
  #attempt(instance: number, request: TokenRequest, firstSentAt: number): Promise<TokenGrant> {
    const profile = [...this.#profiles.values()].find((p) => p.clientId === request.clientId);
    if (!profile) return Promise.reject(new Error("unknown simulated client"));
    this.upstreamRequests += 1;
    const version = profile.versions.find((v) => v.secret === request.clientSecret);
    const who = `i${instance}`;
    this.#trace.add(this.#now(), who, `cyberark ${profile.name} sent (secret ${version?.id})`);
    const entry = itemKey(profile.name, request.scope ?? NO_SCOPES);
    const sent = this.#checker?.upstreamSent(instance, entry);
    const sentAt = this.#now();
    const fault = this.#upstreamFault(profile.name);
    const delay =
      fault === "timeout"
        ? this.#random.between(0.6, 1) * IDENTITY_ATTEMPT_TIMEOUT_MS
        : this.#scheduler.sample(TOKEN_ATTEMPT);
    return this.#scheduler.call(instance, delay, TOKEN_ATTEMPT.worst, () => {
      if (sent) this.#checker?.upstreamDone(entry, sent);
      const answer = (text: string) =>
        this.#trace.add(this.#now(), who, `cyberark ${profile.name} -> ${text}`);
      // A tenant that grants more than was asked: the vendor must neither serve nor cache it.
      const broader = fault === "broader" && request.scope !== undefined;
      if (fault && fault !== "broader") {
        const error = this.#faultError(fault);
        answer(`${fault} (${error.name})`);
        throw error;
      }
      const graceOver = (version?.replacedAt ?? Number.POSITIVE_INFINITY) + ROTATION_GRACE_MS;
      if (!version || this.#now() >= graceOver) {
        answer("401 invalid_client");
        throw new UpstreamRejectedError({ status: 401, oauthError: "invalid_client" });
      }
      this.#serial += 1;
      const accessToken = `sim.${profile.name}.${this.#serial}`;
      const lifetimeSeconds = profile.lifetimeSeconds;
      this.#checker?.issued(accessToken, {
        profile: entry,
        version: version.id,
        lifetimeSeconds,
        sentAt: Math.min(sentAt, firstSentAt),
        instance,
        knownAt: undefined,
        stored: false,
      });
      answer(
        `${fp(accessToken)} (${version.id}, ${lifetimeSeconds}s${broader ? ", broader" : ""})`,
      );
      // The grant is the ask (or, broader, the ask and one scope more).
      const scope = broader ? `${request.scope} Admin` : request.scope;
      return { accessToken, expiresIn: lifetimeSeconds, ...(scope === undefined ? {} : { scope }) };
    });
  }

  // The checker's entries of the profile: each set asked for, with its tag in the record.
  #entries(profile: string): { entry: string; tag: string; set: ScopeSet }[] {
    return (this.#sets.get(profile) ?? [NO_SCOPES]).map((set) => ({
      entry: itemKey(profile, set),
      tag: setTag(set),
      set,
    }));
  }

  #storeFor(instance: number): ProfileStore {
    const who = `i${instance}`;
    const table = this.table;
    const checker = () => this.#checker;
    // Runs `apply` when the scheduler completes the call, unless the table fails it then. A
    // failed write sometimes lands anyway (its answer was lost), as a timed-out request can.
    const call = <T>(
      op: string,
      profile: string,
      latency: Latency,
      apply: (sentAt: number, answered: boolean) => Promise<T>,
      describe: () => string,
      onFailure: (sentAt: number) => void,
      isRead = false,
    ): Promise<T> => {
      const sentAt = this.#now();
      return this.#scheduler.call(instance, this.#scheduler.sample(latency), latency.worst, () => {
        if (this.#failing(this.storeEpisodes)) {
          const landed = !isRead && this.#random.chance(0.25);
          if (landed) void apply(sentAt, false);
          checker()?.storeFault(instance);
          onFailure(sentAt);
          this.#trace.add(
            this.#now(),
            who,
            `${op} ${profile} -> FAILED${landed ? " (but landed)" : ""}`,
          );
          const error = new Error("simulated table failure");
          error.name = landed ? "TimeoutError" : "ProvisionedThroughputExceededException";
          throw error;
        }
        const result = apply(sentAt, true);
        this.#trace.add(this.#now(), who, `${op} ${profile} -> ${describe()}`);
        return result;
      }) as Promise<T>;
    };
    const describeRecord = (profile: string) => {
      const record = table.record(profile);
      const tokens = this.#entries(profile).map(({ set }) =>
        this.describe(table.servable(profile, set)),
      );
      const leases = [...record.sets.values()].filter((e) => e.lease).length;
      return `epoch ${record.epoch}, v${record.version}, tokens ${tokens.join(", ")}, ${leases} lease(s)`;
    };
    // The vendor goes on without the table after a failed call: as if its lease failed open.
    const failedOpen = (profile: string, sentAt: number) => {
      for (const { entry } of this.#entries(profile)) {
        checker()?.leaseFailedOpen(instance, entry, sentAt);
      }
    };

    return {
      read: (profile) =>
        call(
          "table.read",
          profile,
          TABLE_ITEM,
          async (sentAt) => {
            for (const { entry, set } of this.#entries(profile)) {
              checker()?.tableRead(instance, entry, table.servable(profile, set), sentAt);
            }
            checker()?.backOffRead(instance, profile, true);
            return table.read(profile);
          },
          () => describeRecord(profile),
          (sentAt) => {
            for (const { entry } of this.#entries(profile)) {
              checker()?.tableRead(instance, entry, false, sentAt);
            }
            checker()?.backOffRead(instance, profile, false);
            failedOpen(profile, sentAt);
          },
          true,
        ),
      write: (profile, read, next) =>
        call(
          "table.write",
          profile,
          TABLE_ITEM,
          async (sentAt, answered) => {
            const before = table.record(profile);
            const written = await table.write(profile, read, next);
            if (!written) return false;
            for (const { entry, tag, set } of this.#entries(profile)) {
              const token = (next.sets.get(tag)?.token?.token as MemoryToken | undefined)?.token;
              const old = (before.sets.get(tag)?.token?.token as MemoryToken | undefined)?.token;
              if (!token || token.accessToken === old?.accessToken) continue;
              const item = table.servable(profile, set);
              checker()?.tableWritten(instance, entry, token, item, sentAt, answered);
            }
            if (next.backOffUntil > before.backOffUntil) {
              this.backOffsRecorded += 1;
              checker()?.backOffRecorded(profile, next.backOffUntil);
            }
            return true;
          },
          () => describeRecord(profile),
          (sentAt) => failedOpen(profile, sentAt),
        ),
      delete: (profile, now) => {
        let removed: (readonly [string, CachedToken | undefined])[] = [];
        return call(
          "table.delete",
          profile,
          TABLE_LEASE,
          () => {
            removed = this.#entries(profile).map(
              ({ entry }) => [entry, table.items.get(entry)] as const,
            );
            const deleted = table.delete(profile, now);
            checker()?.tableDeleted(instance, profile, removed);
            return deleted;
          },
          () => `removed ${removed.map(([, token]) => this.describe(token)).join(", ")}`,
          () => {},
        );
      },
      fresh: (profile, tag, token, stamp) => table.fresh(profile, tag, token, stamp),
    };
  }

  #upstreamFault(profile: string): UpstreamFault | undefined {
    const now = this.#now();
    for (const e of this.upstreamEpisodes) {
      if (e.from <= now && now < e.to && (e.profile === undefined || e.profile === profile)) {
        if (this.#random.chance(e.rate)) return e.fault;
      }
    }
    return undefined;
  }

  #faultError(fault: UpstreamFault): Error {
    switch (fault) {
      case "timeout":
        return new UpstreamUnavailableError({
          dependency: "identity",
          kind: "timeout",
          detail: "CyberArk did not answer in time",
          retryAfterSeconds: 5,
        });
      // As the identity adapter reports them: a Retry-After longer than a request may wait ends
      // the exchange at once and becomes the profile's back-off, which the vendor records.
      case "unavailable":
        return this.#random.chance(0.3)
          ? this.#backOff("CyberArk answered 503", this.#random.int(1, 120))
          : new UpstreamUnavailableError({
              dependency: "identity",
              kind: "failed",
              detail: "CyberArk failed 3 attempt(s): CyberArk answered 503",
              retryAfterSeconds: 5,
            });
      case "throttled":
        return this.#backOff("CyberArk answered 429", this.#random.int(1, 300));
      case "rejected":
      case "broader":
        return new UpstreamRejectedError({ status: 400, oauthError: "invalid_scope" });
    }
  }

  #backOff(answer: string, seconds: number): UpstreamUnavailableError {
    return new UpstreamUnavailableError({
      dependency: "identity",
      kind: "failed",
      detail: `CyberArk failed 1 attempt(s): ${answer}`,
      retryAfterSeconds: seconds,
      backOffSeconds: seconds,
    });
  }

  #failing(episodes: readonly Episode[]): boolean {
    const now = this.#now();
    return episodes.some((e) => e.from <= now && now < e.to && this.#random.chance(e.rate));
  }

  #profile(name: string): SimProfile {
    const profile = this.#profiles.get(name);
    if (!profile) throw new Error(`no simulated profile ${name}`);
    return profile;
  }

  #now(): number {
    return this.#scheduler.clock.now();
  }
}

/** The profile an entry ({@link itemKey}: `profile` or `profile set`) belongs to. */
export function profileOfEntry(entry: string): string {
  return entry.split(" ")[0] ?? entry;
}
