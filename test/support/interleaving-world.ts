/**
 * Several real `TokenVendor` instances sharing one DynamoDB table (the real adapters on an
 * in-process dynalite), a fake CyberArk of this harness's own, a versioned secret, a fake KMS and
 * one fake clock, every outside call gated by a seeded {@link Scheduler}. It records what was
 * sent, issued, served and revoked, and checks the caching promises on that record.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { DynamoDbIssuedTokens } from "../../functions/adapters/dynamodb-issued-tokens.js";
import { DynamoDbProfileStore } from "../../functions/adapters/dynamodb-profile-store.js";
import { type DataKeyProvider, EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { callerDigest, parseCaller } from "../../functions/core/callers.js";
import type { IdentityProvider, Logger, SecretSource } from "../../functions/core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
import { NO_SCOPES, parseScopeSet, type ScopeSet, setTag } from "../../functions/core/scope-set.js";
import {
  API_GATEWAY_TIMEOUT_MS,
  CREDENTIALS_MAX_AGE_MS,
  MEMORY_RECHECK_MS,
} from "../../functions/core/timing.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import type { EmbeddedDynamoDb } from "../../functions/local/embedded-dynamodb.js";
import {
  type Decision,
  type PendingGate,
  Rng,
  Scheduler,
  START,
} from "./interleaving-scheduler.js";

export const ACCOUNT = "111122223333";
export const PROFILES = ["p1", "p2"] as const;
export type ProfileName = (typeof PROFILES)[number];
const DEFAULT_SCOPE = "read";
export const CALLERS = ["alice", "bob", "carol"] as const;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/admin`;
const roleArn = (name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/session-1`;

/** What a seed's world may do. */
export interface WorldOptions {
  readonly seed: number;
  readonly instances?: number;
  /** Table calls may fail (throttled before, or reply lost after the write landed). */
  readonly tableFaults?: boolean;
  /** CyberArk may answer 429, 5xx, or not in time. */
  readonly upstreamFaults?: boolean;
  /** Instances may freeze while the clock moves. */
  readonly freezes?: boolean;
  /** Profile p1 sees no CyberArk fault at all (isolation: p2 gets them). */
  readonly cleanP1?: boolean;
  /** Token lifetimes CyberArk grants, seconds. */
  readonly lifetimes?: readonly number[];
  /** CyberArk now and then grants more than asked (never to be served) or less (served). */
  readonly oddGrants?: boolean;
}

/** A token request as CyberArk received it. */
export interface SentRequest {
  readonly id: number;
  readonly inst: number;
  readonly profile: string;
  readonly scope: string;
  readonly version: string;
  readonly seq: number;
  readonly at: number;
  /** The sender's last read of the profile's item before the send (sequence number). */
  readonly lastItemRead: number;
  endSeq?: number;
  outcome: string;
  token?: string;
}

/** A token CyberArk issued. */
export interface Issued {
  readonly token: string;
  /** The scope CyberArk granted (its answer's `scope`). */
  readonly granted: string;
  readonly request: SentRequest;
  /** When the service received it (undefined: it never did). */
  deliveredSeq?: number;
  deliveredAt?: number;
  /** CyberArk's own expiry, counted from the latest moment it may have issued it. */
  realExpiresAt?: number;
  revokedSeq?: number;
  revokedAt?: number;
  revokedBy?: number;
}

export interface Served {
  readonly inst: number;
  readonly op: number;
  readonly profile: string;
  readonly scope: string;
  readonly caller: string;
  readonly token: string;
  readonly cache: string;
  readonly startSeq: number;
  readonly endSeq: number;
  readonly startAt: number;
  readonly at: number;
  readonly minValidity: number;
}

export interface DeleteRun {
  readonly inst: number;
  readonly op: number;
  readonly profile: string;
  readonly startSeq: number;
  writeSeq?: number;
  writeAt?: number;
  newEpoch?: number;
  endSeq?: number;
  endAt?: number;
  result?: { revoked: string; skipped?: string; revokedCount?: number };
  error?: string;
}

export interface Snapshot {
  readonly seq: number;
  readonly at: number;
  readonly profile: string;
  readonly exists: boolean;
  readonly epoch: number;
  readonly incarnation?: string;
  readonly backOffUntil: number;
  readonly tokens: Record<string, number>;
  readonly places: Record<string, { caller: string; until: number }>;
  readonly leases: Record<string, { owner: string; until: number }>;
  readonly ttl?: number;
}

export interface Violation {
  readonly check: string;
  readonly detail: string;
}

export type Op =
  | {
      readonly type: "get";
      readonly inst: number;
      readonly profile: ProfileName;
      readonly scope?: string;
      readonly caller: string;
      readonly min: number;
      readonly gapMs: number;
    }
  | {
      readonly type: "delete";
      readonly inst: number;
      readonly profile: ProfileName;
      readonly gapMs: number;
    }
  | { readonly type: "rotate"; readonly profile: ProfileName; readonly gapMs: number };

class SilentLogger implements Logger {
  readonly lines: { message: string; attributes: Record<string, unknown> }[] = [];
  warn(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ message, attributes });
  }
}

const context = new AsyncLocalStorage<{ inst: number }>();

/** A DynamoDB attribute value, as far as this harness reads one. */
interface Attr {
  readonly S?: string;
  readonly N?: string;
  readonly M?: Record<string, Attr>;
}

/** A command's input, as far as this harness reads one (its key). */
interface CommandInput {
  readonly Key?: Record<string, Attr>;
  readonly Item?: Record<string, Attr>;
}

function configFor(): ProfilesConfig {
  const profile = (app: string) => ({
    tenantUrl: "https://tenant.example.com",
    secretId: `secret/${app}`,
    applicationId: app,
    scope: DEFAULT_SCOPE,
    scopes: ["read", "write", "deploy", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"],
    allowedCallers: [ACCOUNT],
  });
  return parseProfilesConfig({
    profiles: { p1: profile("p1"), p2: profile("p2") },
    adminCallers: [ADMIN],
  });
}

/** The normalised scope set a `scope` query asks (the profile's default when absent). */
export function askedSet(scope: string | undefined): string {
  const set = parseScopeSet(scope ?? DEFAULT_SCOPE);
  if (typeof set !== "string") throw new Error(set.problem);
  return set;
}

export class InterleavingWorld {
  readonly sched: Scheduler;
  readonly rng: Rng;
  readonly opts: Required<WorldOptions>;
  readonly vendors: TokenVendor[] = [];
  readonly loggers: SilentLogger[] = [];
  readonly sent: SentRequest[] = [];
  readonly issued = new Map<string, Issued>();
  readonly served: Served[] = [];
  readonly errors: {
    inst: number;
    op: number;
    profile: string;
    scope: string;
    name: string;
    message: string;
    retryAfter?: number;
    startSeq: number;
    endSeq: number;
  }[] = [];
  readonly deletes: DeleteRun[] = [];
  readonly snapshots: Snapshot[] = [];
  readonly violations: Violation[] = [];
  readonly faults: { inst: number; seq: number; at: number; kind: string; label: string }[] = [];
  readonly freezes: { inst: number; from: number; until: number }[] = [];
  readonly secretVersions = new Map<string, number>();
  readonly lastItemRead = new Map<string, number>();
  readonly secretReads: { inst: number; profile: string; version: string; at: number }[] = [];
  readonly deleteTtl = new Map<string, { ttl: number; incarnation?: string }>();
  readonly rotations: { profile: string; seq: number; at: number; version: string }[] = [];
  /** Answers a directed scenario forces, taken one per token request before the seed decides. */
  readonly nextAnswers: { granted?: string; status?: number; retryAfter?: number }[] = [];
  #tokens = 0;
  #requests = 0;
  #ops = 0;
  readonly #db: EmbeddedDynamoDb;
  readonly #table: string;

  constructor(db: EmbeddedDynamoDb, table: string, options: WorldOptions) {
    this.#db = db;
    this.#table = table;
    this.opts = {
      instances: 3,
      tableFaults: false,
      upstreamFaults: false,
      freezes: false,
      cleanP1: false,
      lifetimes: [600, 3600, 240],
      oddGrants: false,
      ...options,
    };
    this.rng = new Rng(options.seed);
    this.sched = new Scheduler(this.rng, START);
    for (const p of PROFILES) this.secretVersions.set(p, 1);
    const config = configFor();
    const keys = new FakeKms();
    for (let inst = 0; inst < this.opts.instances; inst += 1) {
      const logger = new SilentLogger();
      this.loggers.push(logger);
      const clock = { now: () => this.sched.now };
      const client = this.#gatedClient(inst);
      const cipher = new EnvelopeCipher(this.#gatedKeys(inst, keys), clock.now);
      const sleep = (ms: number) =>
        this.sched.gate(inst, "sleep", `sleep ${ms}ms`, this.sched.now + ms).then(() => {});
      const identity = this.#identity(inst, sleep);
      this.vendors.push(
        new TokenVendor({
          config,
          secrets: this.#secrets(inst),
          store: new DynamoDbProfileStore(client, table, cipher, logger, clock.now),
          issued: new DynamoDbIssuedTokens(client, table, cipher, logger),
          identity,
          clock,
          logger,
          sleep,
          random: () => this.rng.next(),
        }),
      );
    }
  }

  // ---- the outside world, gated ----

  #gatedClient(inst: number): DynamoDBClient {
    const real = this.#db.client;
    const send = async (command: { constructor: { name: string }; input: CommandInput }) => {
      const name = command.constructor.name.replace(/Command$/, "");
      const key: string = command.input.Key?.pk?.S ?? command.input.Item?.pk?.S ?? "";
      const before = await this.sched.gate(inst, "ddb", `${name} ${key}`);
      if (before.fault) {
        this.#fault(inst, "table-throttled", `${name} ${key}`);
        throw new ProvisionedThroughputExceededException({ message: "throttled", $metadata: {} });
      }
      let output: unknown;
      let failure: unknown;
      let committedAt = 0;
      await this.sched.real(async () => {
        try {
          // Never the caller's abort signal: real time means nothing here; the scheduler decides.
          output = await real.send(command as never);
          committedAt = await this.#committed(inst, name, key, command.input);
        } catch (error) {
          failure = error;
        }
      });
      const after = await this.sched.gate(
        inst,
        "ddb-reply",
        `${name} ${key}${failure ? ` (${(failure as Error).name})` : ""}`,
      );
      if (after.fault) {
        this.#fault(inst, "table-reply-lost", `${name} ${key}`);
        const error = new Error("socket timed out");
        error.name = "TimeoutError";
        throw error;
      }
      if (failure) throw failure;
      // The read whose answer the instance has just received: what a guard that sends next decided on.
      if (name === "GetItem" && key.startsWith("profile#")) {
        this.lastItemRead.set(`${inst} ${key.slice("profile#".length)}`, committedAt);
      }
      return output;
    };
    return { send } as unknown as DynamoDBClient;
  }

  #gatedKeys(inst: number, keys: FakeKms): DataKeyProvider {
    return {
      generate: async () => {
        const d = await this.sched.gate(inst, "kms", "GenerateDataKey");
        if (d.fault) {
          this.#fault(inst, "kms", "GenerateDataKey");
          throw new Error("KMS unavailable");
        }
        return keys.generate();
      },
      unwrap: async (wrapped) => {
        const d = await this.sched.gate(inst, "kms", "Decrypt");
        if (d.fault) {
          this.#fault(inst, "kms", "Decrypt");
          throw new Error("KMS unavailable");
        }
        return keys.unwrap(wrapped);
      },
    };
  }

  #secrets(inst: number): SecretSource {
    return {
      read: async (secretId: string) => {
        await this.sched.gate(inst, "secret", secretId);
        const profile = secretId.replace("secret/", "");
        const version = this.secretVersions.get(profile) ?? 1;
        this.secretReads.push({ inst, profile, version: String(version), at: this.sched.now });
        return {
          secretString: JSON.stringify({
            client_id: `client-${profile}`,
            client_secret: `secret-${profile}-v${version}`,
          }),
          versionId: `v${version}`,
        };
      },
    };
  }

  #identity(inst: number, sleep: (ms: number) => Promise<void>): IdentityProvider {
    const client = new CyberArkIdentityClient({
      sleep,
      random: () => this.rng.next(),
      now: () => this.sched.now,
    });
    return {
      endpoints: (profile) => client.endpoints(profile as never),
      requestToken: (request) => context.run({ inst }, () => client.requestToken(request)),
      revokeToken: (request) => context.run({ inst }, () => client.revokeToken(request)),
    };
  }

  /** The fake CyberArk, as `fetch`. */
  readonly fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const inst = context.getStore()?.inst ?? -1;
    const url = new URL(String(input));
    const form = new URLSearchParams(String(init?.body ?? ""));
    const clientId = form.get("client_id") ?? "";
    const profile = clientId.replace("client-", "");
    const secret = form.get("client_secret") ?? "";
    const version = /-v(\d+)$/.exec(secret)?.[1] ?? "?";
    const current = String(this.secretVersions.get(profile));
    if (url.pathname.startsWith("/oauth2/revoke/")) {
      const token = form.get("token") ?? "";
      const fails = this.opts.upstreamFaults && this.rng.chance(0.05);
      const seq = this.sched.tick();
      const entry = this.issued.get(token);
      if (!fails && version === current && entry && entry.revokedSeq === undefined) {
        entry.revokedSeq = seq;
        entry.revokedAt = this.sched.now;
        entry.revokedBy = inst;
      }
      this.sched.note(
        `i${inst} REVOKE ${token}${fails ? " (CyberArk 500)" : version !== current ? " (old secret: 401)" : ""}`,
      );
      await this.sched.gate(inst, "revoke-reply", `revoke ${token}`);
      if (fails) return json(500, { error: "server_error" });
      if (version !== current) return json(401, { error: "invalid_client" });
      return new Response(null, { status: 200 });
    }
    const scope = form.get("scope") ?? "";
    const seq = this.sched.tick();
    this.#requests += 1;
    const request: SentRequest = {
      id: this.#requests,
      inst,
      profile,
      scope,
      version,
      seq,
      at: this.sched.now,
      lastItemRead: this.lastItemRead.get(`${inst} ${profile}`) ?? 0,
      outcome: "?",
    };
    this.#checkSend(request);
    this.sent.push(request);
    const faulty = this.opts.upstreamFaults && !(this.opts.cleanP1 && profile === "p1");
    let answer: () => Response;
    const forced = this.nextAnswers.shift();
    if (forced?.status !== undefined) {
      const { status, retryAfter } = forced;
      request.outcome = `${status}${retryAfter === undefined ? "" : ` Retry-After ${retryAfter}`}`;
      answer = () =>
        json(
          status,
          { error: status === 429 ? "slow_down" : "server_error" },
          retryAfter === undefined ? {} : { "retry-after": String(retryAfter) },
        );
    } else if (version !== current) {
      request.outcome = "invalid_client";
      answer = () => json(401, { error: "invalid_client" });
    } else if (faulty && this.rng.chance(0.06)) {
      const retryAfter = this.rng.pick([1, 5, 30, 120, 400]);
      request.outcome = `429 Retry-After ${retryAfter}`;
      answer = () => json(429, { error: "slow_down" }, { "retry-after": String(retryAfter) });
    } else if (faulty && this.rng.chance(0.05)) {
      request.outcome = "500";
      answer = () => json(500, { error: "server_error" });
    } else if (faulty && this.rng.chance(0.04)) {
      request.outcome = "hang";
      answer = () => {
        throw Object.assign(new Error("The operation was aborted due to timeout"), {
          name: "TimeoutError",
        });
      };
    } else {
      this.#tokens += 1;
      const token = `tok-${profile}-${this.#tokens}`;
      const lifetime = this.rng.pick(this.opts.lifetimes);
      // Now and then a tenant grants more than was asked (never to be served) or less (served).
      const odd = faulty && this.opts.oddGrants;
      const broader = odd && this.rng.chance(0.03);
      const narrower = !broader && odd && scope.includes(" ") && this.rng.chance(0.1);
      const granted =
        forced?.granted ??
        (broader ? `${scope} admin`.trim() : narrower ? (scope.split(" ")[0] as string) : scope);
      request.outcome = `token ${token} (${lifetime}s${granted !== scope ? `, granted [${granted}]` : ""})`;
      request.token = token;
      this.issued.set(token, { token, granted, request });
      answer = () => {
        const issued = this.issued.get(token);
        if (issued) {
          issued.deliveredSeq = this.sched.seq;
          issued.deliveredAt = this.sched.now;
          issued.realExpiresAt = this.sched.now + lifetime * 1000;
        }
        return json(200, {
          access_token: token,
          token_type: "Bearer",
          expires_in: lifetime,
          ...(granted ? { scope: granted } : {}),
        });
      };
    }
    this.sched.note(
      `i${inst} SEND #${request.id} ${profile} [${scope}] v${version} -> ${request.outcome}`,
    );
    await this.sched.gate(inst, "cyberark-reply", `#${request.id} ${profile} [${scope}]`);
    if (request.endSeq === undefined) request.endSeq = this.sched.seq;
    const late = this.sched.now > request.at + 1500;
    const frozenMeanwhile = this.freezes.some(
      (f) => f.inst === inst && f.from < this.sched.now && f.until > request.at,
    );
    if (late && !(frozenMeanwhile && this.rng.chance(0.5))) {
      this.sched.note(`i${inst} #${request.id} reply too late: aborted`);
      throw Object.assign(new Error("The operation was aborted due to timeout"), {
        name: "TimeoutError",
      });
    }
    return answer();
  };

  // ---- what happened in the table ----

  async #committed(inst: number, name: string, key: string, input: CommandInput): Promise<number> {
    const seq = this.sched.tick();
    if (!key.startsWith("profile#")) return seq;
    const profile = key.slice("profile#".length);
    if (name === "GetItem") return seq;
    if (name === "UpdateItem") {
      const run = this.deletes.find(
        (d) =>
          d.inst === inst &&
          d.profile === profile &&
          d.writeSeq === undefined &&
          d.endSeq === undefined,
      );
      if (run) {
        run.writeSeq = seq;
        run.writeAt = this.sched.now;
      }
      this.sched.note(`i${inst} DELETE-WRITE ${profile}`);
    }
    const snap = await this.#snapshot(profile, seq);
    if (name === "UpdateItem" && snap.ttl !== undefined) {
      this.deleteTtl.set(profile, {
        ttl: snap.ttl,
        ...(snap.incarnation ? { incarnation: snap.incarnation } : {}),
      });
    }
    if (name === "UpdateItem") {
      const run = this.deletes.find(
        (d) => d.inst === inst && d.profile === profile && d.writeSeq === seq,
      );
      if (run) run.newEpoch = snap.epoch;
    }
    void input;
    const leases = Object.entries(snap.leases)
      .map(([t, l]) => `${t.slice(0, 4)}:${l.owner.slice(0, 10)}:${l.until - snap.at}`)
      .join(" ");
    const tokens = Object.keys(snap.tokens)
      .map((t) => t.slice(0, 4))
      .join(",");
    this.sched.note(
      `  ${profile} item: epoch ${snap.epoch} tokens [${tokens}] places ${Object.keys(snap.places).length} leases [${leases}] backOff ${Math.max(0, snap.backOffUntil - snap.at)}`,
    );
    this.#checkSnapshot(snap);
    return seq;
  }

  async #snapshot(profile: string, seq: number): Promise<Snapshot> {
    const out = await this.#db.client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { pk: { S: `profile#${profile}` } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    const num = (v: Attr | undefined) => (v?.N === undefined ? 0 : Number(v.N));
    const map = (v: Attr | undefined) => v?.M ?? {};
    const snap: Snapshot = {
      seq,
      at: this.sched.now,
      profile,
      exists: item !== undefined,
      epoch: num(item?.epoch),
      ...(item?.incarnation?.S ? { incarnation: item.incarnation.S } : {}),
      backOffUntil: num(item?.backOffUntil),
      tokens: Object.fromEntries(
        Object.entries(map(item?.tokens)).map(([t, v]) => [t, num(v.M?.expiresAt)]),
      ),
      places: Object.fromEntries(
        Object.entries(map(item?.places)).map(([t, v]) => [
          t,
          { caller: v.M?.caller?.S ?? "", until: num(v.M?.until) },
        ]),
      ),
      leases: Object.fromEntries(
        Object.entries(map(item?.leases)).map(([t, v]) => [
          t,
          { owner: v.M?.owner?.S ?? "", until: num(v.M?.until) },
        ]),
      ),
      ...(item?.ttl?.N ? { ttl: Number(item.ttl.N) } : {}),
    };
    this.snapshots.push(snap);
    return snap;
  }

  /** DynamoDB's TTL: an item past its `ttl` may vanish (late, whenever). */
  async sweepTtl(): Promise<void> {
    const out = await this.sched.real(() =>
      this.#db.client.send(new ScanCommand({ TableName: this.#table })),
    );
    for (const item of out.Items ?? []) {
      const ttl = item.ttl?.N === undefined ? undefined : Number(item.ttl.N);
      if (ttl !== undefined && ttl * 1000 < this.sched.now && this.rng.chance(0.7)) {
        await this.sched.real(() =>
          this.#db.client.send(
            new DeleteItemCommand({ TableName: this.#table, Key: { pk: item.pk as never } }),
          ),
        );
        this.sched.tick();
        this.sched.note(`TTL removed ${item.pk?.S}`);
      }
    }
  }

  #fault(inst: number, kind: string, label: string) {
    this.faults.push({ inst, seq: this.sched.seq, at: this.sched.now, kind, label });
  }

  // ---- checks made as things happen ----

  #violate(check: string, detail: string) {
    this.violations.push({ check, detail });
    this.sched.note(`VIOLATION ${check}: ${detail}`);
  }

  #tableFaultsBetween(fromSeq: number, toSeq: number, inst?: number): boolean {
    return this.faults.some(
      (f) =>
        f.kind.startsWith("table") &&
        f.seq >= fromSeq &&
        f.seq <= toSeq &&
        (inst === undefined || f.inst === inst),
    );
  }

  #checkSend(request: SentRequest) {
    // Credentials no older than CREDENTIALS_MAX_AGE_MS (5 min) when a request is sent.
    const reads = this.secretReads.filter(
      (r) =>
        r.inst === request.inst && r.profile === request.profile && r.version === request.version,
    );
    const newest = reads.at(-1);
    if (newest && request.at - newest.at > CREDENTIALS_MAX_AGE_MS) {
      this.#violate(
        "credentials-age",
        `request #${request.id} (i${request.inst}) sent with credentials read ${(request.at - newest.at) / 1000}s before`,
      );
    }
    // Single flight per (profile, set) while the table is healthy, retries included.
    for (const other of this.sent) {
      if (other.profile !== request.profile || other.scope !== request.scope) continue;
      const ended = other.endSeq !== undefined || this.sched.now >= other.at + 1500;
      if (ended) continue;
      if (this.#tableFaultsBetween(other.seq - 10_000, request.seq)) continue;
      this.#violate(
        "single-flight",
        `request #${request.id} (i${request.inst}) sent while #${other.id} (i${other.inst}) for ${request.profile} [${request.scope}] was in flight`,
      );
    }
    // No request while a back-off recorded in the table lasts.
    const recorded = this.snapshots.filter(
      (s) => s.profile === request.profile && s.backOffUntil > request.at,
    );
    const last = [...this.snapshots].reverse().find((s) => s.profile === request.profile);
    // The write that first recorded the back-off now in force: a sender whose last read of the
    // item came before it raced it (read, then send: a window of one reply); one that read the
    // item after it and still sent did not honour it.
    const since = recorded.find((s) => last && s.backOffUntil === last.backOffUntil);
    if (last && last.backOffUntil > request.at && since && request.lastItemRead < since.seq) {
      this.sched.note(
        `(request #${request.id} raced the back-off write #${since.seq}: its last read #${request.lastItemRead} came before)`,
      );
    } else if (last && last.backOffUntil > request.at) {
      this.#violate(
        "back-off",
        `request #${request.id} (i${request.inst}) for ${request.profile} sent ${last.backOffUntil - request.at}ms before the recorded back-off ends`,
      );
    } else if (recorded.length > 0 && last && !last.exists) {
      // The item vanished with its back-off: the back-off must not have been cut short by TTL.
      const longest = Math.max(...recorded.map((s) => s.backOffUntil));
      this.#violate(
        "back-off",
        `request #${request.id} for ${request.profile} sent ${longest - request.at}ms before a recorded back-off ends (the item vanished)`,
      );
    }
  }

  #checkSnapshot(snap: Snapshot) {
    if (!snap.exists) return;
    const now = snap.at;
    const live = new Set<string>();
    for (const [tag, p] of Object.entries(snap.places)) if (p.until > now) live.add(tag);
    for (const [tag, l] of Object.entries(snap.leases)) if (l.until > now) live.add(tag);
    if (live.size > 8)
      this.#violate("bounds", `${snap.profile} has ${live.size} live sets at #${snap.seq}`);
    const defaultTag = setTag(askedSet(undefined) as ScopeSet);
    const perCaller = new Map<string, number>();
    for (const [tag, p] of Object.entries(snap.places)) {
      if (p.until <= now || tag === defaultTag) continue;
      perCaller.set(p.caller, (perCaller.get(p.caller) ?? 0) + 1);
    }
    for (const [digest, count] of perCaller) {
      if (count > 3)
        this.#violate(
          "bounds",
          `caller ${digest} holds ${count} non-default places of ${snap.profile}`,
        );
    }
    const kept = this.deleteTtl.get(snap.profile);
    if (
      kept &&
      snap.incarnation === kept.incarnation &&
      snap.ttl !== undefined &&
      snap.ttl < kept.ttl
    ) {
      this.#violate(
        "ttl-after-delete",
        `a write to ${snap.profile} at #${snap.seq} set ttl ${kept.ttl - snap.ttl}s earlier than the DELETE before it did`,
      );
    }
    if (snap.ttl !== undefined) {
      const ends = [
        snap.backOffUntil,
        ...Object.values(snap.tokens),
        ...Object.values(snap.places).map((p) => p.until),
        ...Object.values(snap.leases).map((l) => l.until),
      ];
      const latest = Math.max(0, ...ends);
      if (snap.ttl * 1000 < latest) {
        this.#violate(
          "ttl",
          `${snap.profile} item ttl ${snap.ttl * 1000 - now}ms ahead, ends before something it holds (${latest - now}ms)`,
        );
      }
    }
  }

  // ---- operations ----

  start(op: Op): Promise<void> {
    this.#ops += 1;
    const id = this.#ops;
    const startSeq = this.sched.tick();
    if (op.type === "rotate") {
      const version = (this.secretVersions.get(op.profile) ?? 1) + 1;
      this.secretVersions.set(op.profile, version);
      this.rotations.push({
        profile: op.profile,
        seq: startSeq,
        at: this.sched.now,
        version: `v${version}`,
      });
      this.sched.note(`ROTATE ${op.profile} -> v${version}`);
      return Promise.resolve();
    }
    const vendor = this.vendors[op.inst] as TokenVendor;
    if (op.type === "delete") {
      const run: DeleteRun = { inst: op.inst, op: id, profile: op.profile, startSeq };
      this.deletes.push(run);
      this.sched.note(`i${op.inst} op${id} DELETE ${op.profile} starts`);
      return vendor
        .invalidate({ profile: op.profile, caller: parseCaller(ADMIN) })
        .then(
          (result) => {
            run.result = result as NonNullable<DeleteRun["result"]>;
          },
          (error: Error) => {
            run.error = `${error.name}: ${error.message}`;
          },
        )
        .finally(() => {
          run.endSeq = this.sched.tick();
          run.endAt = this.sched.now;
          this.sched.note(
            `i${op.inst} op${id} DELETE ${op.profile} -> ${run.error ?? `204 ${JSON.stringify(run.result)}`}`,
          );
        });
    }
    const startAt = this.sched.now;
    const scope = askedSet(op.scope);
    this.sched.note(
      `i${op.inst} op${id} GET ${op.profile} [${scope}] by ${op.caller} min=${op.min}`,
    );
    const set = op.scope === undefined ? undefined : (parseScopeSet(op.scope) as ScopeSet);
    return vendor
      .getToken({
        profile: op.profile,
        caller: parseCaller(roleArn(op.caller)),
        minValiditySeconds: op.min,
        ...(set === undefined ? {} : { scope: set }),
      })
      .then(
        (vended) => {
          const endSeq = this.sched.tick();
          const served: Served = {
            inst: op.inst,
            op: id,
            profile: op.profile,
            scope,
            caller: op.caller,
            token: vended.token.accessToken,
            cache: vended.cache,
            startSeq,
            endSeq,
            startAt,
            at: this.sched.now,
            minValidity: op.min,
          };
          this.served.push(served);
          this.sched.note(`i${op.inst} op${id} 200 ${served.token} (${served.cache})`);
        },
        (error: Error & { retryAfterSeconds?: number }) => {
          const endSeq = this.sched.tick();
          this.errors.push({
            inst: op.inst,
            op: id,
            profile: op.profile,
            scope,
            name: error.name,
            message: error.message,
            ...(error.retryAfterSeconds === undefined
              ? {}
              : { retryAfter: error.retryAfterSeconds }),
            startSeq,
            endSeq,
          });
          this.sched.note(`i${op.inst} op${id} ERROR ${error.name}: ${error.message}`);
        },
      );
  }

  // ---- the scheduler's choices ----

  decide(gate: PendingGate): Decision {
    const r = this.rng;
    if (gate.kind === "ddb" && this.opts.tableFaults && r.chance(0.04))
      return { fault: "throttle" };
    if (gate.kind === "ddb-reply" && this.opts.tableFaults && r.chance(0.02))
      return { fault: "lost" };
    if (gate.kind === "kms" && this.opts.tableFaults && r.chance(0.02)) return { fault: "kms" };
    return {};
  }

  freeze(inst: number, ms: number) {
    const until = this.sched.now + ms;
    this.sched.frozenUntil.set(inst, until);
    this.freezes.push({ inst, from: this.sched.now, until });
    this.sched.note(`FREEZE i${inst} for ${ms}ms`);
  }

  /** Runs the ops, interleaved as the seed decides; then lets everything finish. */
  async run(ops: readonly Op[], maxSteps = 4000): Promise<number> {
    const s = this.sched;
    const r = this.rng;
    const running = new Set<Promise<void>>();
    let next = 0;
    let steps = 0;
    for (; steps < maxSteps; steps += 1) {
      await s.settle();
      if (next >= ops.length && running.size === 0 && s.pending.length === 0) break;
      const draining = steps > maxSteps * 0.8;
      if (next < ops.length && (running.size === 0 || r.chance(0.12))) {
        const op = ops[next++] as Op;
        // A pause between requests only while nothing runs (else it would freeze everyone).
        if (op.gapMs > 0 && running.size === 0) s.advance(op.gapMs);
        const p = this.start(op).finally(() => running.delete(p));
        running.add(p);
        continue;
      }
      const eligible = s.eligible();
      const roll = r.next();
      if (!draining && this.opts.freezes && roll < 0.015) {
        this.freeze(
          r.int(0, this.opts.instances - 1),
          r.pick([400, 2_000, 8_000, 25_000, 45_000, 200_000]),
        );
        continue;
      }
      // Time moves at about the same pace per flow, however many run at once.
      if (eligible.length > 0 && roll < 1 - 0.25 / Math.max(1, eligible.length)) {
        const gate = r.pick(eligible);
        s.release(gate, draining ? {} : this.decide(gate));
        continue;
      }
      const wake = s.nextWake();
      const big = r.next();
      let ms =
        big < 0.85
          ? r.int(1, 20)
          : big < 0.98
            ? r.int(20, 400)
            : big < 0.997
              ? r.int(1_000, 8_000)
              : r.int(20_000, 70_000);
      if (eligible.length === 0 && wake !== undefined) ms = Math.max(1, Math.ceil(wake - s.now));
      s.advance(ms);
      if (r.chance(0.3)) await this.sweepTtl();
    }
    return steps;
  }

  // ---- directed runs (deterministic scenarios) ----

  /** Holds every gate of `inst` until {@link thaw}, whatever the clock does. */
  hold(inst: number): void {
    this.sched.frozenUntil.set(inst, Number.POSITIVE_INFINITY);
    this.sched.note(`HOLD i${inst}`);
  }

  thaw(inst: number): void {
    this.sched.frozenUntil.delete(inst);
    this.sched.note(`THAW i${inst}`);
  }

  /**
   * Releases eligible gates first come, first served (sleeps when their time comes, moving the
   * clock to them) until nothing but held instances' gates is left, or `until` holds.
   */
  async drain(
    until?: (pending: readonly PendingGate[]) => boolean,
    maxSteps = 5_000,
    skip: (gate: PendingGate) => boolean = () => false,
  ): Promise<void> {
    const s = this.sched;
    for (let i = 0; i < maxSteps; i += 1) {
      await s.settle();
      if (until?.(s.pending)) return;
      const gate = s.eligible().find((g) => !skip(g));
      if (gate) {
        s.release(gate);
        continue;
      }
      const wake = s.nextWake();
      if (wake === undefined || !Number.isFinite(wake)) return;
      s.advance(Math.max(1, Math.ceil(wake - s.now)));
    }
    throw new Error("drain did not finish");
  }

  /** Releases the first waiting gate that `which` picks, with `decision` (a fault, say). */
  async releaseFirst(
    which: (gate: PendingGate) => boolean,
    decision: Decision = {},
  ): Promise<void> {
    await this.sched.settle();
    const gate = this.sched.eligible().find(which);
    if (!gate) throw new Error(`no such gate is waiting:\n${this.sched.trace.join("\n")}`);
    this.sched.release(gate, decision);
  }

  /** DynamoDB's TTL, now: every item past its `ttl` goes. */
  async expireItems(): Promise<string[]> {
    const out = await this.#db.client.send(new ScanCommand({ TableName: this.#table }));
    const gone: string[] = [];
    for (const item of out.Items ?? []) {
      const ttl = item.ttl?.N === undefined ? undefined : Number(item.ttl.N);
      if (ttl !== undefined && ttl * 1000 < this.sched.now) {
        await this.#db.client.send(
          new DeleteItemCommand({ TableName: this.#table, Key: { pk: item.pk as never } }),
        );
        gone.push(item.pk?.S ?? "");
      }
    }
    this.sched.tick();
    this.sched.note(`TTL removed ${gone.join(", ") || "nothing"}`);
    return gone;
  }

  /** Starts a GET of the profile's default set by alice on `inst`. */
  get(inst: number, profile: ProfileName = "p1", min = 300): Promise<void> {
    return this.start({ type: "get", inst, profile, caller: "alice", min, gapMs: 0 });
  }

  /** Starts a DELETE of the profile on `inst`. */
  del(inst: number, profile: ProfileName = "p1"): Promise<void> {
    return this.start({ type: "delete", inst, profile, gapMs: 0 });
  }

  // ---- checks over the whole run ----

  /** Whether `token` was obtained before the DELETE `d`'s write: its send, or its sender's last read of the item, came first. */
  obtainedBefore(token: Issued, d: DeleteRun): boolean {
    if (d.writeSeq === undefined) return false;
    return token.request.seq < d.writeSeq || token.request.lastItemRead < d.writeSeq;
  }

  finalChecks(): Violation[] {
    const completed = this.deletes.filter(
      (d) => d.result !== undefined && d.writeSeq !== undefined,
    );
    for (const s of this.served) {
      // An answer later than API Gateway's 29 s reaches no one.
      if (s.at - s.startAt > API_GATEWAY_TIMEOUT_MS) continue;
      const t = this.issued.get(s.token);
      if (!t) {
        this.#violate(
          "served-unknown",
          `op${s.op} served a token CyberArk never issued: ${s.token}`,
        );
        continue;
      }
      // Never another set's, another profile's, or past expiry.
      if (t.request.profile !== s.profile || t.request.scope !== s.scope) {
        this.#violate(
          "scope",
          `op${s.op} (i${s.inst}) asked ${s.profile} [${s.scope}] and got ${s.token} of ${t.request.profile} [${t.request.scope}]`,
        );
      }
      const asked = new Set(s.scope.split(" ").filter(Boolean));
      const extra = t.granted.split(" ").filter((g) => g && !asked.has(g));
      if (extra.length > 0) {
        this.#violate(
          "broader",
          `op${s.op} asked [${s.scope}] and was served ${s.token} granted [${t.granted}]`,
        );
      }
      // Never a token of an identity rotated out longer ago than credentials are kept (5 min).
      const rotated = this.rotations.filter(
        (r) =>
          r.profile === s.profile &&
          r.at + 5 * 60_000 + MEMORY_RECHECK_MS < s.startAt &&
          `v${t.request.version}` < r.version,
      );
      if (rotated.length > 0) {
        this.#violate(
          "identity",
          `op${s.op} (i${s.inst}, ${s.cache}) served ${s.token} of secret v${t.request.version}, rotated out ${(s.startAt - (rotated[0] as { at: number }).at) / 1000}s before`,
        );
      }
      if (t.realExpiresAt !== undefined && t.realExpiresAt <= s.at) {
        this.#violate(
          "expiry",
          `op${s.op} served ${s.token} ${s.at - t.realExpiresAt}ms after CyberArk's expiry`,
        );
      }
      // No served token revoked (beyond another instance's memory bound after a DELETE).
      if (t.revokedSeq !== undefined && t.revokedSeq < s.startSeq) {
        // Another instance may serve it for 30 s after the write of the DELETE that revoked it
        // (60 s while the table fails it): the memory bound, or work that read the table
        // before that write.
        const bound = (d: DeleteRun) =>
          (d.writeAt as number) +
          (this.#tableFaultsBetween(d.writeSeq as number, s.endSeq, s.inst) ? 2 : 1) *
            MEMORY_RECHECK_MS;
        const excused = this.deletes.some(
          (d) =>
            d.profile === s.profile &&
            d.inst !== s.inst &&
            d.writeSeq !== undefined &&
            (this.obtainedBefore(t, d) ||
              (d.inst === t.revokedBy &&
                d.writeSeq < (t.revokedSeq as number) &&
                (d.endSeq ?? Number.POSITIVE_INFINITY) >= (t.revokedSeq as number))) &&
            s.at <= bound(d),
        );
        if (!excused) {
          this.#violate(
            "served-revoked",
            `op${s.op} (i${s.inst}, ${s.cache}) served ${s.token}, revoked by i${t.revokedBy} at #${t.revokedSeq} before the GET began (#${s.startSeq})`,
          );
        }
      }
      // Nothing obtained before a DELETE served after its write.
      for (const d of this.deletes) {
        if (d.profile !== s.profile || d.writeSeq === undefined || !this.obtainedBefore(t, d))
          continue;
        const faulty = this.#tableFaultsBetween(t.request.seq, s.endSeq, s.inst);
        if (s.inst === d.inst) {
          // The DELETEing instance: never again, from any level, once it answered 204 (a GET
          // begun while it ran is concurrent with it).
          if (d.endSeq !== undefined && s.startSeq > d.endSeq) {
            this.#violate(
              "after-delete",
              `op${s.op} served ${s.token} (${s.cache}) on the DELETEing instance i${d.inst}, GET begun (#${s.startSeq}) after DELETE op${d.op}'s 204 (#${d.endSeq}); obtained (request #${t.request.id}) before its write`,
            );
          }
          continue;
        }
        // A GET concurrent with the DELETE may be ordered before it; one that began after its 204 may not.
        if (d.endSeq === undefined || s.startSeq < d.endSeq) continue;
        // Another instance: within 30 s of the write (the memory bound, or work that read the
        // table before the write), whatever the level; never later.
        if (s.cache !== "memory" && s.at > (d.writeAt as number) + MEMORY_RECHECK_MS) {
          if (!faulty) {
            this.#violate(
              "after-delete",
              `op${s.op} (i${s.inst}) served ${s.token} from ${s.cache} ${s.at - (d.writeAt as number)}ms after DELETE op${d.op}'s write #${d.writeSeq}, obtained (request #${t.request.id}) before it`,
            );
          }
        } else if (
          s.cache === "memory" &&
          s.at > (d.writeAt as number) + MEMORY_RECHECK_MS &&
          !(faulty && s.at <= (d.writeAt as number) + 2 * MEMORY_RECHECK_MS)
        ) {
          this.#violate(
            "after-delete",
            `op${s.op} (i${s.inst}) served ${s.token} from memory ${s.at - (d.writeAt as number)}ms after DELETE op${d.op}'s write`,
          );
        }
      }
    }
    // Every live token obtained before a DELETE's write is revoked (by it or by its writer).
    for (const d of completed) {
      for (const t of this.issued.values()) {
        if (t.request.profile !== d.profile || t.deliveredSeq === undefined) continue;
        if (!this.obtainedBefore(t, d)) continue;
        if ((t.realExpiresAt as number) <= (d.endAt as number)) continue;
        if (t.revokedSeq !== undefined) continue;
        const excused =
          this.#tableFaultsBetween(t.request.seq, this.sched.seq, t.request.inst) ||
          this.faults.some((f) => f.kind === "kms") ||
          this.loggers.some((l) =>
            l.lines.some((x) =>
              /revocation failed|ledger .*full|ledger write failed/.test(x.message),
            ),
          );
        const unusable = t.granted
          .split(" ")
          .some((g) => g && !t.request.scope.split(" ").includes(g));
        this.#violate(
          excused
            ? "not-revoked (excused by a fault)"
            : unusable
              ? "not-revoked-unusable"
              : "not-revoked",
          `${t.token} (request #${t.request.id}, i${t.request.inst}, sent #${t.request.seq}) was obtained before DELETE op${d.op} (i${d.inst}, write #${d.writeSeq}) and lives ${(t.realExpiresAt as number) - (d.endAt as number)}ms past its 204, never revoked; DELETE said ${JSON.stringify(d.result)}`,
        );
      }
      const r = d.result;
      if (r?.revoked === "true" && r.skipped && /failed|unopened|past-bound/.test(r.skipped)) {
        this.#violate("audit", `DELETE op${d.op} says revoked=true while it skipped ${r.skipped}`);
      }
    }
    return this.violations.filter((v) => !v.check.includes("excused"));
  }

  /** The bound messages of 503s must never blame CyberArk. */
  boundErrors() {
    return this.errors.filter((e) => /bound|scope sets/i.test(e.message));
  }

  tagOf(scope: string): string {
    return scope === "" ? setTag(NO_SCOPES) : setTag(scope as ScopeSet);
  }

  digestOf(caller: string): string {
    return callerDigest(parseCaller(roleArn(caller)));
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

class FakeKms implements DataKeyProvider {
  readonly #key = Buffer.alloc(32, 7);
  async generate() {
    return {
      plaintext: new Uint8Array(this.#key),
      wrapped: new Uint8Array(Buffer.from("wrapped-key-1")),
    };
  }
  async unwrap(wrapped: Uint8Array) {
    if (Buffer.from(wrapped).toString() !== "wrapped-key-1") throw new Error("unknown key");
    return new Uint8Array(this.#key);
  }
}

/** A seed's operations: GETs of two or three scope sets, DELETEs (some at once), rotations, probes past the bounds. */
export function opsFor(seed: number, count: number, instances: number): Op[] {
  const r = new Rng(seed * 7919 + 17);
  const ops: Op[] = [];
  const sets = [undefined, "write", "read write"];
  for (let i = 0; i < count; i += 1) {
    const roll = r.next();
    const gapMs = r.chance(0.6) ? 0 : r.chance(0.8) ? r.int(10, 3_000) : r.int(20_000, 400_000);
    const profile: ProfileName = r.chance(0.8) ? "p1" : "p2";
    if (roll < 0.1) {
      ops.push({ type: "delete", inst: r.int(0, instances - 1), profile, gapMs });
      if (r.chance(0.3))
        ops.push({ type: "delete", inst: r.int(0, instances - 1), profile, gapMs: 0 });
    } else if (roll < 0.14) {
      ops.push({ type: "rotate", profile, gapMs });
    } else if (roll < 0.2) {
      // A caller cycling through new sets, past its 3 places and the profile's 8.
      const caller = r.pick(CALLERS);
      for (const extra of ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"].slice(0, r.int(2, 8))) {
        ops.push({
          type: "get",
          inst: r.int(0, instances - 1),
          profile,
          scope: extra,
          caller: r.chance(0.7) ? caller : r.pick(CALLERS),
          min: 300,
          gapMs: 0,
        });
      }
    } else {
      const scope = r.pick(sets);
      const burst = r.chance(0.3) ? instances : 1;
      for (let b = 0; b < burst; b += 1) {
        ops.push({
          type: "get",
          inst: burst > 1 ? b : r.int(0, instances - 1),
          profile,
          ...(scope === undefined ? {} : { scope }),
          caller: r.pick(CALLERS),
          min: r.pick([0, 60, 300, 300, 1800, 3600]),
          gapMs: b === 0 ? gapMs : 0,
        });
      }
    }
  }
  return ops;
}
