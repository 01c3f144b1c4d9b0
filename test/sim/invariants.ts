/**
 * The promises the simulation checks, each named after the promise, and the bookkeeping they need.
 * The simulated ports and the workload report what happens here as it happens (a request sent to
 * CyberArk, a table write landing, a GET returning), and each report checks the invariants it
 * concerns at that very step.
 *
 * Every exemption below names the condition under which the product does not make the promise
 * (a failing table, a rotation still inside its window), never a convenience.
 */
import {
  AccessDeniedError,
  ConfigurationError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../../functions/core/errors.js";
import {
  CREDENTIALS_MAX_AGE_MS,
  LEASE_MS,
  MAX_UNCONFIRMED_MS,
  MEMORY_RECHECK_MS,
  UNCONFIRMED_RETRY_MS,
  WORST_AWS_CALL_MS,
  WORST_REQUEST_MS,
  WORST_TABLE_CALL_MS,
} from "../../functions/core/timing.js";
import { type CachedToken, isUsable, remainingSeconds } from "../../functions/core/token.js";
import { fp, type Trace } from "./trace.js";

/** The invariants, by the promise each one holds. */
export const INVARIANTS = {
  expired: "never an expired token",
  minValidity: "a returned token lasts the capped min_validity",
  available: "no error while a cached token lasts the capped min_validity",
  rotation: "never an old-identity token after the rotation window",
  deletingInstance: "the deleting instance never serves the dropped token",
  otherInstances: "other instances stop serving a dropped token within 30 s",
  oneInFlight: "one CyberArk request per profile at a time (healthy table)",
  perLifetime: "at most one CyberArk request per quarter token lifetime (undisturbed)",
  contractErrors: "every failure is a contract error",
  unhandled: "no unhandled rejection",
} as const;

/** One invariant's name. */
export type Invariant = (typeof INVARIANTS)[keyof typeof INVARIANTS];

/** A broken promise, with the trace leading up to it. */
export interface Violation {
  readonly invariant: Invariant;
  readonly detail: string;
  readonly at: string;
  readonly trace: readonly string[];
}

/** After its secret version is replaced, how long an instance may still use it: its credentials cache, plus the read that fetched them. */
export const ROTATION_WINDOW_MS = CREDENTIALS_MAX_AGE_MS + WORST_AWS_CALL_MS;
/**
 * How long after a DELETE reached the table other instances may still serve the dropped token:
 * the memory recheck interval, plus a confirming read that the table answered just before the
 * DELETE and the instance processed just after.
 */
export const OTHERS_STOP_MS = MEMORY_RECHECK_MS + WORST_TABLE_CALL_MS;
/** How long a table failure may leave the lease failed open: one lease, then one whole request. */
const FAIL_OPEN_MS = LEASE_MS + WORST_REQUEST_MS;
// How long before a GET the flight it joined may have started.
const FLIGHT_START_SLACK_MS = 60_000;

/** What CyberArk issued. */
export interface TokenInfo {
  readonly profile: string;
  readonly version: string;
  readonly lifetimeSeconds: number;
  /** When the vendor sent the request (the token's `issuedAt`). */
  readonly sentAt: number;
  readonly instance: number;
  /** When the token first stood in the table or was returned; `undefined` while unknown. */
  knownAt: number | undefined;
  /** Whether a table write of it landed without an error (kept or refused by the condition). */
  stored: boolean;
}

/** A GET under way. */
export interface GetRecord {
  readonly instance: number;
  readonly profile: string;
  readonly minValiditySeconds: number;
  readonly start: number;
  /** Where the GET began in the order of events (several can share one instant). */
  readonly order: number;
}

/** A DELETE under way or done. */
export interface DeleteRecord {
  readonly instance: number;
  readonly profile: string;
  readonly start: number;
  applied?: number;
  resolved?: number;
  /** Where the 204 came in the order of events. */
  resolvedOrder?: number;
  /** The item the delete removed from the table. */
  removed?: string;
}

interface Held {
  readonly token: CachedToken;
  readonly getStart: number;
  readonly at: number;
}

/** Per instance and profile: what the instance was last seen to hold and read. */
interface InstanceView {
  held?: Held;
  /**
   * Access token -> when the table last confirmed it to this instance: the sending time of the
   * last read that returned it, or of the write of it that the table stored. A token the table
   * never confirmed (its write refused or failed) is not one the instance must keep serving.
   */
  readonly confirmations: Map<string, number>;
  lastReadFailure?: number;
  /** Last successful table read that returned something other than the held token. */
  lastDisagreeingRead?: number;
  lastIssued?: number;
}

/** Watches the run and records every violation, at most one per invariant. */
export class Checker {
  readonly violations: Violation[] = [];
  readonly tokens = new Map<string, TokenInfo>();
  readonly #trace: Trace;
  readonly #now: () => number;
  readonly #currentVersion: (profile: string) => string;
  readonly #replacedAt = new Map<string, number>();
  readonly #lastRotation = new Map<string, number>();
  readonly #deletes: DeleteRecord[] = [];
  readonly #lastDeleteStart = new Map<string, number>();
  readonly #table = new Map<string, { item: CachedToken | undefined; changed: number }>();
  readonly #views = new Map<string, InstanceView>();
  #order = 0;
  readonly #inFlight = new Map<string, { instance: number; sentAt: number }[]>();
  readonly #lastIssued = new Map<string, TokenInfo>();
  readonly #lastThaw = new Map<number, number>();
  readonly #frozenSince = new Map<number, number>();
  readonly #frozenTotal = new Map<number, number>();
  readonly #faultRunningTime = new Map<number, number>();
  #lastStoreFault = Number.NEGATIVE_INFINITY;
  #lastSecretFault = Number.NEGATIVE_INFINITY;

  constructor(trace: Trace, now: () => number, currentVersion: (profile: string) => string) {
    this.#trace = trace;
    this.#now = now;
    this.#currentVersion = currentVersion;
  }

  // ---- what the world reports ----

  /** A secret version was replaced by a new one. */
  rotated(profile: string, oldVersion: string): void {
    this.#replacedAt.set(`${profile}/${oldVersion}`, this.#now());
    this.#lastRotation.set(profile, this.#now());
  }

  /** An instance sent CyberArk a token request; checks the two request-count invariants. */
  upstreamSent(instance: number, profile: string): { instance: number; sentAt: number } {
    const now = this.#now();
    const inFlight = this.#inFlight.get(profile) ?? [];
    const request = { instance, sentAt: now };
    const busy = inFlight[0];
    if (busy && this.#healthy([instance, ...inFlight.map((r) => r.instance)])) {
      this.#violate(
        INVARIANTS.oneInFlight,
        `i${instance} asked CyberArk for ${profile} while i${busy.instance}'s request sent at ${this.#trace.time(busy.sentAt)} was in flight${this.#thawNote(busy.instance, busy.sentAt)}${this.#thawNote(instance, now)}`,
      );
    }
    this.#checkSpacing(instance, profile, now);
    inFlight.push(request);
    this.#inFlight.set(profile, inFlight);
    return request;
  }

  /** CyberArk finished processing a request (whatever its answer). */
  upstreamDone(profile: string, request: { instance: number; sentAt: number }): void {
    const inFlight = this.#inFlight.get(profile) ?? [];
    this.#inFlight.set(
      profile,
      inFlight.filter((r) => r !== request),
    );
  }

  /** CyberArk issued a token. */
  issued(accessToken: string, info: TokenInfo): void {
    this.tokens.set(accessToken, info);
    this.#lastIssued.set(info.profile, info);
    this.#view(info.instance, info.profile).lastIssued = this.#now();
  }

  /** A table call failed (or its answer was lost) for `instance`. */
  storeFault(instance: number): void {
    this.#lastStoreFault = this.#now();
    this.#faultRunningTime.set(instance, this.#runningTime(instance));
  }

  /**
   * A table read of `instance`, sent at `sentAt`, completed: `item` when it succeeded, `false` when
   * it failed. A confirmation counts from when the read was sent, as the vendor counts it: the
   * item may have changed while the answer was on its way.
   */
  tableRead(
    instance: number,
    profile: string,
    item: CachedToken | undefined | false,
    sentAt: number,
  ): void {
    const view = this.#view(instance, profile);
    if (item === false) {
      view.lastReadFailure = this.#now();
      return;
    }
    if (item?.accessToken !== view.held?.token.accessToken) view.lastDisagreeingRead = this.#now();
    if (item) view.confirmations.set(item.accessToken, sentAt);
  }

  /** A table write landed; `item` is what the table holds now. */
  tableWritten(
    instance: number,
    profile: string,
    written: CachedToken,
    item: CachedToken | undefined,
    sentAt: number,
  ): void {
    const info = this.tokens.get(written.accessToken);
    if (info) info.stored = true;
    if (item?.accessToken === written.accessToken) {
      this.#view(instance, profile).confirmations.set(written.accessToken, sentAt);
    }
    this.#tableChanged(profile, item);
  }

  /** A table delete landed for `instance`. */
  tableDeleted(instance: number, profile: string, removed: CachedToken | undefined): void {
    const pending = this.#deletes.find(
      (d) => d.instance === instance && d.profile === profile && d.applied === undefined,
    );
    if (pending) {
      pending.applied = this.#now();
      if (removed) pending.removed = removed.accessToken;
    }
    this.#tableChanged(profile, undefined);
  }

  /** The secret source failed a read. */
  secretFault(): void {
    this.#lastSecretFault = this.#now();
  }

  /** An instance was frozen. */
  frozen(instance: number): void {
    this.#frozenSince.set(instance, this.#now());
  }

  /** An instance thawed. */
  thawed(instance: number): void {
    const since = this.#frozenSince.get(instance);
    if (since !== undefined) {
      this.#frozenTotal.set(instance, (this.#frozenTotal.get(instance) ?? 0) + this.#now() - since);
    }
    this.#frozenSince.delete(instance);
    this.#lastThaw.set(instance, this.#now());
  }

  // ---- what the callers see ----

  /** A GET returned `token`; checks every promise about a returned token. */
  getReturned(get: GetRecord, token: CachedToken): void {
    const now = this.#now();
    const info = this.tokens.get(token.accessToken);
    const who = `i${get.instance} GET ${get.profile} (started ${this.#trace.time(get.start)})`;
    if (token.expiresAt <= now) {
      this.#violate(INVARIANTS.expired, `${who} got ${fp(token.accessToken)}, expired`);
    } else if (!isUsable(token, now, get.minValiditySeconds)) {
      this.#violate(
        INVARIANTS.minValidity,
        `${who} min=${get.minValiditySeconds} got ${fp(token.accessToken)} with ${remainingSeconds(token, now)}s left`,
      );
    }
    if (info) {
      this.#checkIdentity(get, token, info, who);
      this.#checkDropped(get, token, info, who);
      info.knownAt ??= now;
    }
    this.#view(get.instance, get.profile).held = { token, getStart: get.start, at: now };
  }

  /** A GET failed; checks that the error is a contract error and nothing usable was cached. */
  getFailed(get: GetRecord, error: unknown): void {
    if (!this.#isContractError(error, `i${get.instance} GET ${get.profile}`)) return;
    const available = this.#available(get);
    if (available) {
      const name = (error as Error).name;
      this.#violate(
        INVARIANTS.available,
        `i${get.instance} GET ${get.profile} min=${get.minValiditySeconds} failed with ${name} although ${available}`,
      );
    }
  }

  /** The next position in the order of events. */
  nextOrder(): number {
    this.#order += 1;
    return this.#order;
  }

  /** A DELETE started. */
  deleteStarted(instance: number, profile: string): DeleteRecord {
    const record: DeleteRecord = { instance, profile, start: this.#now() };
    this.#deletes.push(record);
    this.#lastDeleteStart.set(profile, record.start);
    return record;
  }

  /** A DELETE answered 204. */
  deleteResolved(record: DeleteRecord): void {
    record.resolved = this.#now();
    record.resolvedOrder = this.nextOrder();
  }

  /** A DELETE failed. */
  deleteFailed(record: DeleteRecord, error: unknown): void {
    this.#isContractError(error, `i${record.instance} DELETE ${record.profile}`);
  }

  /** A promise rejected with nobody listening. */
  unhandledRejection(reason: unknown): void {
    const name = reason instanceof Error ? reason.name : typeof reason;
    this.#violate(INVARIANTS.unhandled, `unhandled rejection: ${name}`);
  }

  // ---- the checks ----

  #checkIdentity(get: GetRecord, token: CachedToken, info: TokenInfo, who: string): void {
    const replacedAt = this.#replacedAt.get(`${get.profile}/${info.version}`);
    if (replacedAt === undefined) return;
    const what = `${who} got ${fp(token.accessToken)} of secret ${info.version}, replaced at ${this.#trace.time(replacedAt)}`;
    if (get.start > replacedAt + ROTATION_WINDOW_MS) {
      this.#violate(INVARIANTS.rotation, `${what}: over 5 minutes before the GET`);
      return;
    }
    for (const d of this.#deletes) {
      if (d.profile !== get.profile || d.resolved === undefined || d.start <= replacedAt) continue;
      if (this.#pastDelete(get, d)) {
        this.#violate(
          INVARIANTS.rotation,
          `${what}: after i${d.instance}'s DELETE at ${this.#trace.time(d.start)} that followed the rotation`,
        );
        return;
      }
    }
  }

  #checkDropped(get: GetRecord, token: CachedToken, info: TokenInfo, who: string): void {
    for (const d of this.#deletes) {
      if (d.profile !== get.profile || d.resolved === undefined) continue;
      const dropped =
        (info.knownAt !== undefined && info.knownAt < d.start) || d.removed === token.accessToken;
      if (!dropped || !this.#pastDelete(get, d)) continue;
      const invariant =
        d.instance === get.instance ? INVARIANTS.deletingInstance : INVARIANTS.otherInstances;
      this.#violate(
        invariant,
        `${who} got ${fp(token.accessToken)}, dropped by i${d.instance}'s DELETE at ${this.#trace.time(d.start)} (table at ${this.#trace.time(d.applied ?? d.start)}, 204 at ${this.#trace.time(d.resolved)})`,
      );
      return;
    }
  }

  // Whether the GET started late enough that the DELETE must show: at once on the deleting
  // instance, within OTHERS_STOP_MS elsewhere unless the GET's own table read failed (then the
  // held token is served, by design).
  #pastDelete(get: GetRecord, d: DeleteRecord): boolean {
    if (d.resolved === undefined) return false;
    // A GET that began before the 204, in the same instant, may still have joined work begun
    // before the DELETE; one that began after it may not.
    if (d.instance === get.instance) return get.order > (d.resolvedOrder ?? 0);
    const view = this.#view(get.instance, get.profile);
    // The instance could not check: its table read failed during this GET, or so recently that
    // it serves its held token unconfirmed until it tries again (the bound on that is the
    // vendor's MAX_UNCONFIRMED_MS, held by the "available" rule and the race tests). The retry
    // is counted from when the vendor decided to serve unconfirmed, which may come a secret read
    // after the failed table read.
    const lastFailure = view.lastReadFailure ?? Number.NEGATIVE_INFINITY;
    const couldNotCheck = lastFailure >= get.start - UNCONFIRMED_RETRY_MS - WORST_AWS_CALL_MS;
    return get.start >= (d.applied ?? d.resolved) + OTHERS_STOP_MS && !couldNotCheck;
  }

  // A token the vendor should have served instead of failing: (a) one that stood in a healthy
  // table throughout the GET, or (b) the one this instance last served, while every table read
  // since then failed and nothing (a DELETE, a rotation, a newer token) replaced it.
  #available(get: GetRecord): string | undefined {
    const now = this.#now();
    const current = this.#currentVersion(get.profile);
    if (this.#lastSecretFault >= get.start) return undefined;
    if ((this.#lastRotation.get(get.profile) ?? Number.NEGATIVE_INFINITY) >= get.start) {
      return undefined;
    }
    const table = this.#table.get(get.profile);
    const token = table?.item;
    if (
      token &&
      table.changed <= get.start &&
      this.#lastStoreFault < get.start &&
      this.tokens.get(token.accessToken)?.version === current &&
      isUsable(token, now, get.minValiditySeconds)
    ) {
      return `the table held ${fp(token.accessToken)} (${remainingSeconds(token, now)}s left) throughout`;
    }
    const view = this.#view(get.instance, get.profile);
    const held = view.held;
    if (!held) return undefined;
    const heldInfo = this.tokens.get(held.token.accessToken);
    const replaced =
      heldInfo?.version !== current ||
      (this.#lastDeleteStart.get(get.profile) ?? Number.NEGATIVE_INFINITY) >=
        held.getStart - FLIGHT_START_SLACK_MS ||
      (view.lastDisagreeingRead ?? Number.NEGATIVE_INFINITY) >= held.at ||
      (view.lastIssued ?? Number.NEGATIVE_INFINITY) >= held.at;
    if (replaced || (view.lastReadFailure ?? Number.NEGATIVE_INFINITY) < get.start) {
      return undefined;
    }
    // Held without the table's confirmation for too long, a token may have been deleted
    // elsewhere: the vendor rightly stops serving it then.
    const confirmedAt = view.confirmations.get(held.token.accessToken);
    if (confirmedAt === undefined || now - confirmedAt >= MAX_UNCONFIRMED_MS) return undefined;
    if (!isUsable(held.token, now, get.minValiditySeconds)) return undefined;
    return `i${get.instance} held ${fp(held.token.accessToken)} (${remainingSeconds(held.token, now)}s left) and the table could not be read`;
  }

  // No request within a quarter lifetime of the last token, unless something disturbed the
  // cache since: a DELETE, a rotation, this instance being frozen, or a table failure, including
  // one shortly before the last request (that request may have been made under a lease failed
  // open, while its holder asked too).
  #checkSpacing(instance: number, profile: string, now: number): void {
    const last = this.#lastIssued.get(profile);
    if (!last) return;
    const earliest = last.sentAt + (last.lifetimeSeconds * 1000) / 4 - 1000;
    if (now >= earliest) return;
    const since = (times: Map<string | number, number>, key: string | number) =>
      times.get(key) ?? Number.NEGATIVE_INFINITY;
    const disturbed =
      !last.stored ||
      last.version !== this.#currentVersion(profile) ||
      since(this.#lastDeleteStart, profile) >= last.sentAt - WORST_REQUEST_MS ||
      since(this.#lastRotation, profile) >= last.sentAt - ROTATION_WINDOW_MS - WORST_REQUEST_MS ||
      this.#lastStoreFault >= last.sentAt - FAIL_OPEN_MS ||
      since(this.#lastThaw, instance) >= last.sentAt;
    if (disturbed) return;
    this.#violate(
      INVARIANTS.perLifetime,
      `i${instance} asked CyberArk for ${profile} ${((now - last.sentAt) / 1000).toFixed(1)}s after the request for a ${last.lifetimeSeconds}s token`,
    );
  }

  // A table failure leaves the lease failed open for a while; "healthy" means no instance
  // involved saw one within that while of its own running (unfrozen) time.
  #healthy(instances: number[]): boolean {
    if (this.#lastStoreFault >= this.#now() - FAIL_OPEN_MS) return false;
    return instances.every((i) => {
      const fault = this.#faultRunningTime.get(i);
      return fault === undefined || this.#runningTime(i) - fault > FAIL_OPEN_MS;
    });
  }

  // Says when an instance thawed shortly (within a lease) before it sent a request: a holder
  // frozen past its lease's expiry is the usual story behind two requests at once.
  #thawNote(instance: number, sentAt: number): string {
    const thaw = this.#lastThaw.get(instance);
    if (thaw === undefined || thaw > sentAt || sentAt - thaw > LEASE_MS) return "";
    return ` (i${instance} thawed at ${this.#trace.time(thaw)})`;
  }

  #runningTime(instance: number): number {
    const since = this.#frozenSince.get(instance);
    const frozenNow = since === undefined ? 0 : this.#now() - since;
    return this.#now() - (this.#frozenTotal.get(instance) ?? 0) - frozenNow;
  }

  #isContractError(error: unknown, who: string): boolean {
    if (
      error instanceof AccessDeniedError ||
      error instanceof ConfigurationError ||
      error instanceof UpstreamRejectedError ||
      error instanceof UpstreamUnavailableError
    ) {
      return true;
    }
    const name = error instanceof Error ? error.name : typeof error;
    this.#violate(INVARIANTS.contractErrors, `${who} failed with ${name}`);
    return false;
  }

  #tableChanged(profile: string, item: CachedToken | undefined): void {
    const previous = this.#table.get(profile);
    if (previous?.item?.accessToken === item?.accessToken) return;
    this.#table.set(profile, { item, changed: this.#now() });
    if (item) {
      const info = this.tokens.get(item.accessToken);
      if (info) info.knownAt ??= this.#now();
    }
  }

  #view(instance: number, profile: string): InstanceView {
    const key = `${instance}/${profile}`;
    let view = this.#views.get(key);
    if (!view) {
      view = { confirmations: new Map() };
      this.#views.set(key, view);
    }
    return view;
  }

  #violate(invariant: Invariant, detail: string): void {
    this.#trace.add(this.#now(), "check", `VIOLATION ${invariant}: ${detail}`);
    if (this.violations.some((v) => v.invariant === invariant)) return;
    this.violations.push({
      invariant,
      detail,
      at: this.#trace.time(this.#now()),
      trace: this.#trace.lines(),
    });
  }
}
