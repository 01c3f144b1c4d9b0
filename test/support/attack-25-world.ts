/**
 * Review of issue 25 (second round): an interleaving harness written from the README's promises,
 * independent of `test/sim`. Several `TokenVendor` instances share one table (`MemoryStore`, wrapped
 * so its calls can throw, freeze before or after they land), one fake clock whose time moves only
 * when the scheduler says, a scripted tenant whose answers the scheduler holds and releases, and a
 * ledger. A seeded scheduler interleaves GETs of many scope sets, DELETEs, scheduled renewals,
 * clock jumps, table failures and 429s; an oracle checks every serve and every tenant request.
 */

import { cyberArkEndpoints } from "../../functions/adapters/cyberark-endpoints.js";
import { UpstreamUnavailableError, VendingError } from "../../functions/core/errors.js";
import type {
  IdentityProvider,
  ProfileEndpoints,
  RevocationRequest,
  StoredItem,
  TokenRequest,
  TokenStore,
} from "../../functions/core/ports.js";
import { type Profile, parseProfilesConfig } from "../../functions/core/profiles.js";
import { NO_SCOPES, type ScopeSet, scopeSetOf, scopesOf } from "../../functions/core/scope-set.js";
import { BACK_OFF_READ_MAX_AGE_MS, WORST_EXCHANGE_MS } from "../../functions/core/timing.js";
import type { CachedToken, TokenGrant } from "../../functions/core/token.js";
import { TokenVendor, type VendedToken } from "../../functions/core/vendor.js";
import { caller, FakeClock, FakeSecrets, MemoryLogger, MemoryStore } from "./fakes.js";
import { MemoryIssuedTokens } from "./memory-issued-tokens.js";

const ACCOUNT = "111122223333";
const START = Date.parse("2026-11-21T12:00:00Z");
export const PROFILES = ["app", "other"] as const;
const SCOPES: Record<string, string[]> = {
  app: Array.from({ length: 12 }, (_, i) => `s${i}`),
  other: ["t0", "t1", "t2"],
};

export function worldConfig() {
  const tenantUrl = "https://abc1234.id.cyberark.cloud";
  return parseProfilesConfig({
    profiles: {
      app: {
        tenantUrl,
        secretId: "cyberark/app",
        applicationId: "app_api",
        scope: "s0",
        scopes: SCOPES.app,
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/runner`],
        prewarm: true,
      },
      other: {
        tenantUrl,
        secretId: "cyberark/other",
        applicationId: "other_api",
        scope: "t0",
        scopes: SCOPES.other,
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/runner`],
        prewarm: true,
      },
      broken: {
        tenantUrl,
        secretId: "cyberark/missing",
        applicationId: "broken_api",
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/runner`],
        prewarm: true,
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/admin`],
  });
}

const RUNNER = caller(`arn:aws:sts::${ACCOUNT}:assumed-role/runner/x`);
const ADMIN = caller(`arn:aws:sts::${ACCOUNT}:assumed-role/admin/alice`);

/** A seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** One tenant request, as the tenant saw it. */
export interface TenantRequest {
  id: number;
  profile: string;
  set: ScopeSet;
  start: number;
  secret?: string;
  instance?: number;
  answeredAt?: number;
  /** Order of the answer among tenant events (requests are ordered by id). */
  answeredSeq?: number;
  startSeq?: number;
  outcome?: "token" | "broader" | "429" | "5xx";
  token?: string;
  lifetimeSeconds?: number;
  pending?: Pending<TokenGrant> | undefined;
}

/** The scripted tenant: every request waits until the scheduler answers it. */
export class HeldTenant implements IdentityProvider {
  readonly requests: TenantRequest[] = [];
  readonly revocations: { token: string; at: number }[] = [];
  readonly byToken = new Map<string, TenantRequest>();
  readonly onRequest: ((request: TenantRequest) => void)[] = [];
  #serial = 0;
  seq = 0;
  #next(): number {
    this.seq += 1;
    return this.seq;
  }
  constructor(
    private readonly clock: FakeClock,
    private readonly profiles: ReadonlyMap<string, Profile>,
  ) {}
  endpoints(profile: Profile): ProfileEndpoints {
    return cyberArkEndpoints(profile);
  }
  /** The tenant as one instance sees it: its requests are tagged with the instance. */
  forInstance(instance: number): IdentityProvider {
    return {
      endpoints: (profile) => this.endpoints(profile),
      requestToken: (request) => this.requestToken(request, instance),
      revokeToken: (request) => this.revokeToken(request),
    };
  }
  async requestToken(request: TokenRequest, instance = -1): Promise<TokenGrant> {
    const profile = [...this.profiles.values()].find(
      (p) => cyberArkEndpoints(p).token === request.endpoint,
    );
    const entry: TenantRequest = {
      id: this.requests.length,
      profile: profile?.name ?? "?",
      set: request.scope ?? NO_SCOPES,
      start: this.clock.now(),
      secret: request.clientSecret,
      instance,
      startSeq: this.#next(),
    };
    this.requests.push(entry);
    for (const hook of this.onRequest) hook(entry);
    return new Promise<TokenGrant>((resolve, reject) => {
      entry.pending = { resolve, reject };
    });
  }
  open(): TenantRequest[] {
    return this.requests.filter((r) => r.pending);
  }
  answer(
    entry: TenantRequest,
    kind: "token" | "broader" | "429" | "5xx",
    lifetime: number,
    retryAfter = 60,
  ) {
    const pending = entry.pending;
    if (!pending) return;
    entry.pending = undefined;
    entry.answeredAt = this.clock.now();
    entry.answeredSeq = this.#next();
    entry.outcome = kind;
    if (kind === "429" || kind === "5xx") {
      pending.reject(
        new UpstreamUnavailableError({
          dependency: "identity",
          kind: "failed",
          detail: kind,
          retryAfterSeconds: kind === "429" ? retryAfter : 5,
          ...(kind === "429" ? { backOffSeconds: retryAfter } : {}),
        }),
      );
      if (kind === "429") entry.lifetimeSeconds = retryAfter;
      return;
    }
    this.#serial += 1;
    const token = `tok-${entry.profile}-${this.#serial}`;
    entry.token = token;
    entry.lifetimeSeconds = lifetime;
    this.byToken.set(token, entry);
    const scopes = scopesOf(entry.set);
    const scope = kind === "broader" ? [...scopes, "zz-extra"].join(" ") : scopes.join(" ");
    pending.resolve({ accessToken: token, expiresIn: lifetime, ...(scope ? { scope } : {}) });
  }
  async revokeToken(request: RevocationRequest): Promise<void> {
    this.revocations.push({ token: request.token, at: this.clock.now() });
  }
}

/** A table whose calls can throw, or freeze before or after they land, when the scheduler says. */
export class ChaosStore implements TokenStore {
  /** Chance that a call freezes (0 in healthy runs). */
  freezeChance = 0;
  /** This instance's frozen calls: a frozen instance takes no new request until it thaws. */
  readonly frozen: { release: () => void; fail: () => void; label: string }[] = [];
  constructor(
    readonly inner: MemoryStore,
    private readonly random: () => number,
    readonly table: { failing: boolean },
    /** When each profile's back-off landed in the table, and until when (shared). */
    readonly backOffLanded: Map<string, { at: number; until: number }>,
  ) {}
  get failing(): boolean {
    return this.table.failing;
  }

  async #call<T>(label: string, run: () => Promise<T>): Promise<T> {
    if (this.failing)
      throw Object.assign(new Error("simulated outage"), { name: "ServiceUnavailable" });
    const roll = this.random();
    if (roll < this.freezeChance / 2) {
      // Frozen before it lands.
      await this.#hold(`${label} (before)`);
      if (this.failing) throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
      return run();
    }
    const result = await run();
    if (roll < this.freezeChance) await this.#hold(`${label} (after)`);
    return result;
  }
  #hold(label: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.frozen.push({
        label: `${label} at ${this.now()}`,
        release: resolve,
        fail: () => reject(Object.assign(new Error("timeout"), { name: "TimeoutError" })),
      });
    });
  }
  get(profile: string, set: ScopeSet): Promise<StoredItem> {
    return this.#call("get", () => this.inner.get(profile, set));
  }
  put(...args: Parameters<TokenStore["put"]>) {
    return this.#call("put", () => this.inner.put(...args));
  }
  delete(...args: Parameters<TokenStore["delete"]>) {
    return this.#call("delete", () => this.inner.delete(...args));
  }
  deleteProfile(...args: Parameters<TokenStore["deleteProfile"]>) {
    return this.#call("deleteProfile", () => this.inner.deleteProfile(...args));
  }
  takePlace(...args: Parameters<TokenStore["takePlace"]>) {
    return this.#call("takePlace", () => this.inner.takePlace(...args));
  }
  acquireLease(...args: Parameters<TokenStore["acquireLease"]>) {
    return this.#call("acquireLease", () => this.inner.acquireLease(...args));
  }
  releaseLease(...args: Parameters<TokenStore["releaseLease"]>) {
    return this.#call("releaseLease", () => this.inner.releaseLease(...args));
  }
  now: () => number = () => 0;
  putBackOff(...args: Parameters<TokenStore["putBackOff"]>) {
    return this.#call("putBackOff", async () => {
      await this.inner.putBackOff(...args);
      const until = this.inner.backOffs.get(args[0]) ?? 0;
      this.backOffLanded.set(args[0], { at: this.now(), until });
    });
  }
  getBackOff(...args: Parameters<TokenStore["getBackOff"]>) {
    return this.#call("getBackOff", () => this.inner.getBackOff(...args));
  }
}

export interface Op {
  id: number;
  kind: "get" | "delete" | "renew";
  instance: number;
  profile: string;
  set: ScopeSet;
  min: number;
  start: number;
  startStep: number;
  end?: number;
  endStep?: number;
  vended?: VendedToken;
  error?: unknown;
}

export interface RunOptions {
  seed: number;
  steps: number;
  /** Table failures and frozen table calls. */
  chaos: boolean;
  instances?: number;
  /** Milliseconds the clock moves on each step (default 1; 0: ties at one instant). */
  tick?: number;
}

export interface RunResult {
  seed: number;
  violations: string[];
  known: string[];
  trace: string[];
  ops: Op[];
  tenant: HeldTenant;
  memory: MemoryStore;
  placeAfterDelete: string[];
}

const flush = async (rounds = 6) => {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

/** Runs one seeded interleaving and checks every promise on it. */
export async function runWorld(options: RunOptions): Promise<RunResult> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const config = worldConfig();
  const clock = new FakeClock();
  const secrets = new FakeSecrets();
  secrets.set("cyberark/app", { client_id: "app@example.com", client_secret: "a" });
  secrets.set("cyberark/other", { client_id: "other@example.com", client_secret: "o" });
  const memory = new MemoryStore();
  const table = { failing: false };
  const backOffLanded = new Map<string, { at: number; until: number }>();
  const stores = Array.from({ length: options.instances ?? 3 }, (_, i) => {
    const store = new ChaosStore(memory, prng(options.seed ^ (0x5eed + i)), table, backOffLanded);
    store.freezeChance = options.chaos ? 0.05 : 0;
    store.now = () => clock.now();
    return store;
  });
  const frozenCalls = () => stores.flatMap((store) => store.frozen);
  const ledger = new MemoryIssuedTokens(50);
  const tenant = new HeldTenant(clock, config.profiles);
  const logger = new MemoryLogger();
  const timers: { at: number; resolve: () => void }[] = [];
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => timers.push({ at: clock.now() + ms, resolve }));
  const vendors = stores.map(
    (store, index) =>
      new TokenVendor({
        config,
        secrets,
        store,
        issued: ledger,
        identity: tenant.forInstance(index),
        clock,
        logger,
        sleep,
        random,
      }),
  );
  const ops: Op[] = [];
  const trace: string[] = [];
  const violations: string[] = [];
  const known: string[] = [];
  const backOffs: { profile: string; from: number; until: number }[] = [];
  /** Each secret value and when it was superseded (set when the next rotation of its id comes). */
  const rotations: { secret: string; at: number }[] = [];
  const supersededAt = (secret: string | undefined, profile: string): number | undefined => {
    const prefix = profile === "other" ? "o" : "a";
    const all = [{ secret: prefix, at: -Infinity }, ...rotations].filter((r) =>
      profile === "other"
        ? r.secret === "o" || rotatedOther.has(r.secret)
        : r.secret === "a" || rotatedApp.has(r.secret),
    );
    const index = all.findIndex((r) => r.secret === secret);
    return index >= 0 ? all[index + 1]?.at : undefined;
  };
  const rotatedApp = new Set<string>();
  const rotatedOther = new Set<string>();
  let tableTroubleUntil = -Infinity;
  let step = 0;
  const note = (line: string) => trace.push(`[${step} t=${(clock.now() - START) / 1000}] ${line}`);

  // Checks made at the moment the tenant is asked.
  const placeViolations: string[] = [];
  /** Requests of a set whose place a DELETE dropped while the work that took it went on. */
  const placeAfterDelete: string[] = [];
  tenant.onRequest.push((request) => {
    if (options.chaos) return;
    const reserved = config.profiles.get(request.profile)?.defaultScopes;
    const live = [...(memory.profiles.get(request.profile)?.live ?? new Map<string, number>())]
      .filter(([set, until]) => until > clock.now() && set !== reserved)
      .map(([set]) => set);
    if (live.length + 1 > 8)
      placeViolations.push(
        `${request.profile}: ${live.length + 1} live sets in the table at #${request.id}`,
      );
    const afterDelete = ops.some(
      (o) => o.kind === "delete" && o.profile === request.profile && o.start > clock.now() - 30_000,
    );
    if (request.set !== reserved && !live.includes(request.set))
      (afterDelete ? placeAfterDelete : placeViolations).push(
        `request #${request.id} for ${request.profile} {${request.set}} without a live place`,
      );
  });
  tenant.onRequest.push((request) => {
    note(`tenant asked #${request.id} ${request.profile} {${request.set}} by i${request.instance}`);
    const healthy = clock.now() > tableTroubleUntil;
    if (!healthy) return;
    const overlapping = tenant
      .open()
      .filter(
        (other) =>
          other.profile === request.profile &&
          other.set === request.set &&
          other.start >= clock.now() - WORST_EXCHANGE_MS,
      );
    if (overlapping.length > 0)
      violations.push(
        `two requests in flight for ${request.profile} {${request.set}}: #${overlapping[0]?.id} and #${request.id} (lease ${JSON.stringify(memory.leases.get(request.set === NO_SCOPES ? request.profile : `${request.profile} ${request.set}`))})`,
      );
    const landed = backOffLanded.get(request.profile);
    for (const b of backOffs) {
      const known =
        landed !== undefined &&
        landed.until >= b.until &&
        landed.at + BACK_OFF_READ_MAX_AGE_MS < clock.now();
      if (
        b.profile === request.profile &&
        known &&
        clock.now() > b.from + BACK_OFF_READ_MAX_AGE_MS &&
        clock.now() < b.until
      )
        violations.push(
          `request #${request.id} for ${request.profile} {${request.set}} during a back-off told at ${b.from} until ${b.until}`,
        );
    }
  });

  const settle = (op: Op) => {
    op.end = clock.now();
    op.endStep = step;
  };
  const startGet = (instance: number, profile: string, set: ScopeSet, min: number) => {
    const asked = set === NO_SCOPES ? (config.profiles.get(profile)?.defaultScopes ?? set) : set;
    const op: Op = {
      id: ops.length,
      kind: "get",
      instance,
      profile,
      set: asked,
      min,
      start: clock.now(),
      startStep: step,
    };
    ops.push(op);
    note(`GET#${op.id} i${instance} ${profile} {${set}} min=${min}`);
    const scope = set === NO_SCOPES ? {} : { scope: set };
    vendors[instance]
      ?.getToken({ profile, caller: RUNNER, minValiditySeconds: min, ...scope })
      .then(
        (vended) => {
          settle(op);
          op.vended = vended;
          note(`GET#${op.id} -> ${vended.token.accessToken} (${vended.cache})`);
          checkServe(op);
        },
        (error) => {
          settle(op);
          op.error = error;
          note(`GET#${op.id} -> ${error?.name} ${(error as { kind?: string }).kind ?? ""}`);
          checkError(op);
        },
      );
  };
  const startDelete = (instance: number, profile: string) => {
    const op: Op = {
      id: ops.length,
      kind: "delete",
      instance,
      profile,
      set: NO_SCOPES,
      min: 0,
      start: clock.now(),
      startStep: step,
    };
    ops.push(op);
    note(`DELETE#${op.id} i${instance} ${profile}`);
    vendors[instance]?.invalidate({ profile, caller: ADMIN }).then(
      () => {
        settle(op);
        note(`DELETE#${op.id} -> 204`);
      },
      (error) => {
        settle(op);
        op.error = error;
        note(`DELETE#${op.id} -> ${error?.name}`);
        checkError(op);
      },
    );
  };
  const startRenew = (instance: number) => {
    const op: Op = {
      id: ops.length,
      kind: "renew",
      instance,
      profile: "*",
      set: NO_SCOPES,
      min: 0,
      start: clock.now(),
      startStep: step,
    };
    ops.push(op);
    note(`RENEW#${op.id} i${instance}`);
    vendors[instance]?.renewScheduled().then(
      (report) => {
        settle(op);
        note(`RENEW#${op.id} -> ${JSON.stringify(report)}`);
      },
      (error) => {
        settle(op);
        op.error = error;
        violations.push(`renewScheduled threw ${String(error)}`);
      },
    );
  };

  function checkError(op: Op) {
    const error = op.error;
    if (!(error instanceof VendingError)) {
      violations.push(`op #${op.id} (${op.kind}) crashed with ${String(error)}`);
      return;
    }
    if (error instanceof UpstreamUnavailableError) {
      const after = error.retryAfterSeconds;
      if (!(after >= 1 && after <= 300)) violations.push(`op #${op.id}: Retry-After ${after}`);
    }
  }

  function checkServe(op: Op) {
    const vended = op.vended as VendedToken;
    const token: CachedToken = vended.token;
    const now = clock.now();
    const origin = tenant.byToken.get(token.accessToken);
    if (!origin) {
      violations.push(`GET#${op.id} served a token the tenant never issued`);
      return;
    }
    if (token.expiresAt <= now)
      violations.push(`GET#${op.id} served an expired token ${token.accessToken}`);
    const lifetime = (token.expiresAt - token.issuedAt) / 1000;
    const floor = Math.min(op.min, lifetime / 2) * 1000;
    if (token.expiresAt - now < floor - 1)
      violations.push(
        `GET#${op.id} served ${token.accessToken} with ${(token.expiresAt - now) / 1000}s left, min ${op.min}`,
      );
    if (token.expiresAt > origin.start + (origin.lifetimeSeconds ?? 0) * 1000)
      violations.push(`GET#${op.id} served ${token.accessToken} cached past its real expiry`);
    if (origin.profile !== op.profile || origin.set !== op.set)
      violations.push(
        `GET#${op.id} for ${op.profile} {${op.set}} served ${token.accessToken} obtained for ${origin.profile} {${origin.set}}`,
      );
    const superseded = supersededAt(origin.secret, origin.profile);
    if (
      superseded !== undefined &&
      op.start > superseded + 5 * 60_000 + 60_000 &&
      clock.now() > tableTroubleUntil
    )
      violations.push(
        `GET#${op.id} i${op.instance} served ${token.accessToken} of a secret rotated out ${(op.start - superseded) / 1000}s before`,
      );
    if (origin.outcome === "broader")
      violations.push(`GET#${op.id} served a broader grant ${token.accessToken}`);
    if (op.set !== NO_SCOPES) {
      const asked = new Set(scopesOf(op.set));
      const extra = scopesOf(scopeSetOf((token.scope ?? "").split(" ").filter(Boolean))).filter(
        (s) => !asked.has(s),
      );
      if (extra.length > 0) violations.push(`GET#${op.id} served scopes beyond the ask: ${extra}`);
    }
    // DELETEs that answered 204 before this GET began.
    for (const d of ops) {
      if (d.kind !== "delete" || d.profile !== op.profile || d.error !== undefined) continue;
      if (d.end === undefined || d.endStep === undefined || d.endStep >= op.startStep) continue;
      const obtainedBefore = origin.answeredAt !== undefined && origin.answeredAt < d.start;
      const obtainedDuring =
        origin.answeredAt !== undefined &&
        !obtainedBefore &&
        origin.answeredAt <= d.end &&
        origin.start < d.start;
      const credentialsBefore =
        origin.start < d.start || (origin.start === d.start && origin.id < firstRequestAfter(d));
      if (
        vended.cache === "table" &&
        credentialsBefore &&
        op.start >= d.end &&
        (d.instance === op.instance || op.start > d.end + 30_000)
      ) {
        violations.push(
          `GET#${op.id} i${op.instance} served from the table ${token.accessToken} (credentials read before DELETE#${d.id}) after its 204`,
        );
      }
      const sameInstance = d.instance === op.instance;
      const late = sameInstance || (clock.now() > tableTroubleUntil && op.start > d.end + 30_000);
      if (!late) continue;
      if (obtainedBefore || (!sameInstance && obtainedDuring)) {
        violations.push(
          `GET#${op.id} i${op.instance} served ${token.accessToken} (obtained before DELETE#${d.id} i${d.instance}) after its 204 (${vended.cache})`,
        );
      } else if (obtainedDuring && sameInstance) {
        known.push(
          `GET#${op.id} served ${token.accessToken} answered during DELETE#${d.id} (known finding)`,
        );
      }
    }
  }
  // The id of the first tenant request made at or after a DELETE began (requests are numbered in order).
  const deleteMarks = new Map<number, number>();
  function firstRequestAfter(d: Op): number {
    return deleteMarks.get(d.id) ?? Number.POSITIVE_INFINITY;
  }

  const advance = async (ms: number) => {
    const target = clock.now() + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > target) break;
      timers.shift();
      if (next.at > clock.now()) clock.advanceSeconds((next.at - clock.now()) / 1000);
      next.resolve();
      await flush(3);
    }
    if (target > clock.now()) clock.advanceSeconds((target - clock.now()) / 1000);
  };

  const setsOf = (profile: string) => {
    const names = SCOPES[profile] ?? [];
    return [NO_SCOPES, ...names.map((n) => scopeSetOf([n])), scopeSetOf(names.slice(0, 2))];
  };

  for (step = 0; step < options.steps; step += 1) {
    const roll = random();
    const instance = Math.floor(random() * vendors.length);
    // A frozen instance (a table call or a CyberArk answer held longer than either can take)
    // takes no new request until it thaws.
    const frozenInstance =
      (stores[instance]?.frozen.length ?? 0) > 0 ||
      tenant
        .open()
        .some((r) => r.instance === instance && r.start < clock.now() - WORST_EXCHANGE_MS);
    const r0 = random();
    const profile = r0 < 0.75 ? "app" : r0 < 0.95 ? "other" : "broken";
    if (roll < 0.42 && frozenInstance) {
      note(`i${instance} is frozen`);
    } else if (roll < 0.34) {
      const set = random() < 0.4 ? NO_SCOPES : pick(setsOf(profile));
      startGet(instance, profile, set, pick([0, 60, 300, 900]));
    } else if (roll < 0.39) {
      deleteMarks.set(ops.length, tenant.requests.length);
      startDelete(instance, profile);
    } else if (roll < 0.42) {
      startRenew(instance);
    } else if (roll < 0.68) {
      const open = tenant.open();
      if (open.length > 0) {
        const request = pick(open);
        const r = random();
        const kind = r < 0.75 ? "token" : r < 0.83 ? "broader" : r < 0.93 ? "5xx" : "429";
        const lifetime = pick([600, 1200, 3600]);
        const retryAfter = pick([3, 30, 120, 300]);
        note(`tenant answers #${request.id} ${kind}`);
        if (kind === "429")
          backOffs.push({
            profile: request.profile,
            from: clock.now(),
            until: clock.now() + retryAfter * 1000,
          });
        tenant.answer(request, kind, lifetime, retryAfter);
      }
    } else if (roll < 0.695) {
      const version = `v${step}`;
      const secretId = profile === "other" ? "cyberark/other" : "cyberark/app";
      secrets.set(
        secretId,
        { client_id: `${profile}@example.com`, client_secret: `secret-${version}` },
        version,
      );
      rotations.push({ secret: `secret-${version}`, at: clock.now() });
      (profile === "other" ? rotatedOther : rotatedApp).add(`secret-${version}`);
      note(`rotate ${secretId} to ${version}`);
    } else if (roll < 0.9) {
      await advance(pick([50, 150, 500, 2_000, 10_000, 31_000, 120_000, 400_000]));
    } else if (options.chaos && roll < 0.95) {
      table.failing = !table.failing;
      ledger.failing = table.failing;
      note(`table ${table.failing ? "fails" : "recovers"}`);
    } else if (options.chaos) {
      const frozen = stores.flatMap((store) => store.frozen.splice(0, store.frozen.length));
      note(`thaw ${frozen.length} frozen table calls ${frozen.map((f) => f.label).join(", ")}`);
      if (frozen.length > 0) tableTroubleUntil = clock.now() + 120_000;
      for (const f of frozen) (random() < 0.8 ? f.release : f.fail)();
    }
    if (options.tick !== 0) clock.advanceSeconds((options.tick ?? 1) / 1000);
    if (table.failing || frozenCalls().length > 0) tableTroubleUntil = clock.now() + 120_000;
    await flush();
    if (table.failing || frozenCalls().length > 0) tableTroubleUntil = clock.now() + 120_000;
  }

  // Drain: everything frozen thaws, the tenant answers everything, time passes.
  table.failing = false;
  ledger.failing = false;
  for (let round = 0; round < 400; round += 1) {
    for (const store of stores)
      for (const f of store.frozen.splice(0, store.frozen.length)) f.release();
    for (const request of tenant.open()) tenant.answer(request, "token", 3600);
    await flush();
    if (ops.every((op) => op.end !== undefined)) break;
    await advance(1_000);
  }
  for (const op of ops)
    if (op.end === undefined)
      violations.push(`op #${op.id} (${op.kind} ${op.profile} {${op.set}}) never settled (hang)`);

  checkRevocations();
  checkBound();
  checkOnePerLifetime();

  function checkRevocations() {
    const revokedAt = new Map<string, number>();
    for (const r of tenant.revocations) if (!revokedAt.has(r.token)) revokedAt.set(r.token, r.at);
    for (const d of ops) {
      if (d.kind !== "delete" || d.end === undefined || d.error !== undefined) continue;
      if (d.start <= tableTroubleUntil - 120_000 + 0 && options.chaos) continue;
      for (const origin of tenant.requests) {
        if (origin.profile !== d.profile || !origin.token || origin.answeredAt === undefined)
          continue;
        if (origin.answeredAt >= d.start) continue;
        if (origin.start + (origin.lifetimeSeconds ?? 0) * 1000 <= d.end) continue;
        if (origin.outcome === "broader") continue;
        const at = revokedAt.get(origin.token);
        if (at !== undefined && at <= d.end) continue;
        const servedLater = ops.some(
          (g) =>
            g.kind === "get" &&
            g.vended?.token.accessToken === origin.token &&
            g.startStep > (d.endStep ?? 0),
        );
        const servedBefore = ops.some(
          (g) =>
            g.kind === "get" &&
            g.vended?.token.accessToken === origin.token &&
            (g.endStep ?? Infinity) <= (d.endStep ?? 0),
        );
        if ((servedLater || servedBefore) && clock.now() > 0 && !options.chaos)
          violations.push(
            `DELETE#${d.id} (204 at step ${d.endStep}) left ${origin.token} (answered at step-time ${origin.answeredAt}, live, served ${servedBefore ? "before" : "after"}) unrevoked`,
          );
      }
    }
  }

  function checkBound() {
    // Checked as each request is made (placeViolations), from the table's own places.
    violations.push(...placeViolations);
  }

  function checkOnePerLifetime() {
    if (options.chaos) return;
    for (const r2 of tenant.requests) {
      const r1 = [...tenant.requests]
        .reverse()
        .find((q) => q.id < r2.id && q.profile === r2.profile && q.set === r2.set);
      if (
        r1?.outcome !== "token" ||
        r1.answeredSeq === undefined ||
        r1.answeredSeq > (r2.startSeq ?? 0)
      )
        continue;
      const deleted = ops.some(
        (o) =>
          o.kind === "delete" &&
          o.profile === r2.profile &&
          o.start >= r1.start - 30_000 &&
          o.start <= r2.start,
      );
      if (deleted || r1.secret !== r2.secret) continue;
      const lifetime = (r1.lifetimeSeconds ?? 0) * 1000;
      if (r2.start < r1.start + lifetime / 4 - 1)
        violations.push(
          `request #${r2.id} for ${r2.profile} {${r2.set}} ${(r2.start - r1.start) / 1000}s after #${r1.id} got a token of ${lifetime / 1000}s`,
        );
    }
  }

  return { seed: options.seed, violations, known, trace, ops, tenant, memory, placeAfterDelete };
}
