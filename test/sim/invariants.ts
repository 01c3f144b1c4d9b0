/**
 * The promises the simulation checks, each named after the promise, and the bookkeeping they need.
 * The simulated ports and the workload report what happens here as it happens (a request sent to
 * CyberArk, a table write landing, a GET returning), and each report checks the invariants it
 * concerns at that very step.
 *
 * Every exemption below names the condition under which the product does not make the promise
 * (a failing table, a rotation still inside its window), never a convenience.
 *
 * Each scope set of a profile is its own cache entry, so the checker keeps its books per entry
 * (`entry`: what the world names a set's token item by) and holds every cache promise per entry;
 * what belongs to the profile (its secret and rotations, its DELETEs, the tenant's back-offs) is
 * kept per profile, found with `profileOf(entry)`.
 */
import {
  AccessDeniedError,
  ConfigurationError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../../functions/core/errors.js";
import type { ScopeSet } from "../../functions/core/scope-set.js";
import {
  CREDENTIALS_MAX_AGE_MS,
  LEASE_MS,
  MAX_UNCONFIRMED_MS,
  MEMORY_RECHECK_MS,
  UNCONFIRMED_RETRY_MS,
  WORST_AWS_CALL_MS,
  WORST_DELETE_MS,
  WORST_REQUEST_MS,
  WORST_TABLE_CALL_MS,
} from "../../functions/core/timing.js";
import { type CachedToken, isUsable, remainingSeconds } from "../../functions/core/token.js";
import { fp, type Trace } from "./trace.js";

/** The invariants, by the promise each one holds. */
export const INVARIANTS = {
  expired: "never an expired token",
  minValidity: "a returned token lasts the capped min_validity",
  available: "no error while a servable token of the current identity is in a healthy table",
  availableHeld: "no error while the held token would do and the table cannot be read",
  rotation: "never an old-identity token after the rotation window",
  deletingInstance: "the deleting instance never serves the dropped token",
  otherInstances: "other instances stop serving a dropped token within 30 s (healthy table)",
  unconfirmed: "a dropped token is served unconfirmed at most 60 s after its last confirmation",
  oneInFlight: "one CyberArk request per profile and scope set at a time (healthy table)",
  backOff: "no CyberArk request inside a back-off recorded in the table",
  requestTime: "every request answers within its worst-case time (no freeze)",
  perLifetime:
    "at most one CyberArk request per scope set per quarter token lifetime (undisturbed)",
  notBroader: "never a token granting a scope that was not asked",
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
/**
 * How long after a table failure the last request may have been made without the table's help
 * (a lease failed open, or a token the table could not confirm or store): one lease, then one
 * whole request.
 */
const FAIL_OPEN_MS = LEASE_MS + WORST_REQUEST_MS;
/**
 * After the last confirmation of a held token, how long a GET may still be served it while the
 * table cannot be read: the vendor's bound, plus the failed read that decides it.
 */
const UNCONFIRMED_CEILING_MS = MAX_UNCONFIRMED_MS + WORST_TABLE_CALL_MS;
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
  /** When a write of it first landed. */
  storedAt?: number;
}

/** A GET under way. */
export interface GetRecord {
  readonly instance: number;
  /** The entry asked for: the profile and scope set (see the module). */
  readonly profile: string;
  /** The scope set asked, when the GET asked for one. */
  readonly asked?: ScopeSet;
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
  /** The tokens the delete removed from the table (one per entry of the profile that held one). */
  readonly removed: Set<string>;
  /** Whether the DELETE failed (its table delete did not land, or only its answer was lost). */
  failed?: boolean;
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
  /** Whether this instance's last read of the profile's back-off failed (it then counts none). */
  backOffReadFailed?: boolean;
  /** The windows (from, to) in which this instance refreshes without a lease (it failed open). */
  readonly failedOpen: { readonly from: number; readonly to: number }[];
}

/** Watches the run and records every violation, at most one per invariant. */
export class Checker {
  readonly violations: Violation[] = [];
  readonly tokens = new Map<string, TokenInfo>();
  readonly #trace: Trace;
  readonly #now: () => number;
  readonly #version: (profile: string) => string;
  readonly #profileOf: (entry: string) => string;
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
  /** Per instance, every freeze (from, to), the current one with `to` infinite. */
  readonly #freezes = new Map<number, { from: number; to: number }[]>();
  /** Per profile, every back-off recorded in the table: when it landed, and its end. */
  readonly #backOffs = new Map<string, { readonly at: number; readonly until: number }[]>();
  #lastStoreFault = Number.NEGATIVE_INFINITY;
  #lastSecretFault = Number.NEGATIVE_INFINITY;

  constructor(
    trace: Trace,
    now: () => number,
    currentVersion: (profile: string) => string,
    profileOf: (entry: string) => string = (entry) => entry,
  ) {
    this.#trace = trace;
    this.#now = now;
    this.#version = currentVersion;
    this.#profileOf = profileOf;
  }

  // The current secret version of the entry's profile.
  #currentVersion(entry: string): string {
    return this.#version(this.#profileOf(entry));
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
    const failedOpen =
      this.#failedOpenAt(instance, profile, now) ||
      inFlight.some((r) => this.#failedOpenAt(r.instance, profile, r.sentAt));
    if (busy && !failedOpen) {
      this.#violate(
        INVARIANTS.oneInFlight,
        `i${instance} asked CyberArk for ${profile} while i${busy.instance}'s request sent at ${this.#trace.time(busy.sentAt)} was in flight${this.#thawNote(busy.instance, busy.sentAt)}${this.#thawNote(instance, now)}`,
      );
    }
    this.#checkSpacing(instance, profile, now);
    this.#checkBackOff(instance, profile, now);
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
  storeFault(_instance: number): void {
    this.#lastStoreFault = this.#now();
  }

  /**
   * The lease acquisition `instance` sent at `sentAt` failed: it refreshes without a lease, for as
   * long as the lease it asked for would have lasted.
   */
  leaseFailedOpen(instance: number, profile: string, sentAt: number): void {
    this.#view(instance, profile).failedOpen.push({ from: sentAt, to: sentAt + LEASE_MS });
  }

  /** A back-off of the profile until `until` landed in the table. */
  backOffRecorded(profile: string, until: number): void {
    const records = this.#backOffs.get(profile) ?? [];
    records.push({ at: this.#now(), until });
    this.#backOffs.set(profile, records);
  }

  /** A read of the profile's back-off by `instance` completed (`ok`) or failed. */
  backOffRead(instance: number, profile: string, ok: boolean): void {
    this.#view(instance, profile).backOffReadFailed = !ok;
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

  /**
   * A table write landed; `item` is what the table holds now. `answered`: the instance was told
   * (a write whose answer was lost confirms nothing to it).
   */
  tableWritten(
    instance: number,
    profile: string,
    written: CachedToken,
    item: CachedToken | undefined,
    sentAt: number,
    answered: boolean,
  ): void {
    const info = this.tokens.get(written.accessToken);
    if (info) {
      info.stored = true;
      info.storedAt ??= this.#now();
    }
    if (answered && item?.accessToken === written.accessToken) {
      this.#view(instance, profile).confirmations.set(written.accessToken, sentAt);
    }
    this.#tableChanged(profile, item);
  }

  /**
   * A table delete landed for `instance`: a DELETE of `profile`, which emptied each of `entries`
   * (each with the token it removed, if any) at once.
   */
  tableDeleted(
    instance: number,
    profile: string,
    entries: readonly (readonly [string, CachedToken | undefined])[],
  ): void {
    // A DELETE that failed never lands later: it is not the one landing now.
    const pending = this.#deletes.find(
      (d) =>
        d.instance === instance && d.profile === profile && d.applied === undefined && !d.failed,
    );
    if (pending) pending.applied = this.#now();
    for (const [entry, removed] of entries) {
      if (pending && removed) pending.removed.add(removed.accessToken);
      this.#tableChanged(entry, undefined);
    }
  }

  /** The secret source failed a read. */
  secretFault(): void {
    this.#lastSecretFault = this.#now();
  }

  /** An instance was frozen. */
  frozen(instance: number): void {
    const freezes = this.#freezes.get(instance) ?? [];
    freezes.push({ from: this.#now(), to: Number.POSITIVE_INFINITY });
    this.#freezes.set(instance, freezes);
  }

  /** An instance thawed. */
  thawed(instance: number): void {
    const last = this.#freezes.get(instance)?.at(-1);
    if (last && last.to === Number.POSITIVE_INFINITY) last.to = this.#now();
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
    // Worked out here, not with the vendor's own rule, so a fault in that rule shows.
    const asked = new Set(get.asked?.split(" "));
    const beyond =
      get.asked === undefined || get.asked === ""
        ? []
        : (token.scope ?? "").split(" ").filter((scope) => scope !== "" && !asked.has(scope));
    if (beyond.length > 0) {
      this.#violate(
        INVARIANTS.notBroader,
        `${who} got ${fp(token.accessToken)} granting ${beyond.join(" ")}, not asked`,
      );
    }
    if (info) {
      this.#checkIdentity(get, token, info, who);
      this.#checkDropped(get, token, info, who);
      info.knownAt ??= now;
    }
    this.#checkDuration(get.instance, get.start, WORST_REQUEST_MS, who);
    this.#view(get.instance, get.profile).held = { token, getStart: get.start, at: now };
  }

  /** A GET failed; checks that the error is a contract error and nothing usable was cached. */
  getFailed(get: GetRecord, error: unknown): void {
    const who = `i${get.instance} GET ${get.profile} (started ${this.#trace.time(get.start)})`;
    this.#checkDuration(get.instance, get.start, WORST_REQUEST_MS, who);
    if (!this.#isContractError(error, `i${get.instance} GET ${get.profile}`)) return;
    const name = (error as Error).name;
    const failed = `${who} min=${get.minValiditySeconds} failed with ${name} although`;
    const inTable = this.#availableInTable(get);
    if (inTable) this.#violate(INVARIANTS.available, `${failed} ${inTable}`);
    const held = this.#availableHeld(get);
    if (held) this.#violate(INVARIANTS.availableHeld, `${failed} ${held}`);
  }

  /** The next position in the order of events. */
  nextOrder(): number {
    this.#order += 1;
    return this.#order;
  }

  /** A DELETE started. */
  deleteStarted(instance: number, profile: string): DeleteRecord {
    const record: DeleteRecord = { instance, profile, start: this.#now(), removed: new Set() };
    this.#deletes.push(record);
    this.#lastDeleteStart.set(profile, record.start);
    return record;
  }

  /** A DELETE answered 204. */
  deleteResolved(record: DeleteRecord): void {
    record.resolved = this.#now();
    record.resolvedOrder = this.nextOrder();
    const who = `i${record.instance} DELETE ${record.profile}`;
    this.#checkDuration(record.instance, record.start, WORST_DELETE_MS, who);
  }

  /** A DELETE failed. */
  deleteFailed(record: DeleteRecord, error: unknown): void {
    record.failed = true;
    const who = `i${record.instance} DELETE ${record.profile}`;
    this.#checkDuration(record.instance, record.start, WORST_DELETE_MS, who);
    this.#isContractError(error, who);
  }

  /** A promise rejected with nobody listening. */
  unhandledRejection(reason: unknown): void {
    const name = reason instanceof Error ? reason.name : typeof reason;
    this.#violate(INVARIANTS.unhandled, `unhandled rejection: ${name}`);
  }

  // ---- the checks ----

  #checkIdentity(get: GetRecord, token: CachedToken, info: TokenInfo, who: string): void {
    const replacedAt = this.#replacedAt.get(`${this.#profileOf(get.profile)}/${info.version}`);
    if (replacedAt === undefined) return;
    const what = `${who} got ${fp(token.accessToken)} of secret ${info.version}, replaced at ${this.#trace.time(replacedAt)}`;
    if (get.start > replacedAt + ROTATION_WINDOW_MS) {
      this.#violate(INVARIANTS.rotation, `${what}: over 5 minutes before the GET`);
      return;
    }
    for (const d of this.#deletes) {
      const other = d.profile !== this.#profileOf(get.profile);
      if (other || d.resolved === undefined || d.start <= replacedAt) continue;
      if (this.#pastDelete(get, d) === "yes") {
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
      if (d.profile !== this.#profileOf(get.profile) || d.resolved === undefined) continue;
      const dropped =
        (info.knownAt !== undefined && info.knownAt < d.start) || d.removed.has(token.accessToken);
      if (!dropped) continue;
      const what = `${who} got ${fp(token.accessToken)}, dropped by i${d.instance}'s DELETE at ${this.#trace.time(d.start)} (table at ${this.#trace.time(d.applied ?? d.start)}, 204 at ${this.#trace.time(d.resolved)})`;
      const past = this.#pastDelete(get, d);
      if (past === "unchecked") {
        // The instance could not ask the table; it may serve what it holds, but only so long.
        const view = this.#view(get.instance, get.profile);
        const issuedHere = info.instance === get.instance ? info.sentAt : undefined;
        const confirmedAt = view.confirmations.get(token.accessToken) ?? issuedHere;
        if (confirmedAt === undefined || get.start >= confirmedAt + UNCONFIRMED_CEILING_MS) {
          const last = confirmedAt === undefined ? "never" : this.#trace.time(confirmedAt);
          this.#violate(INVARIANTS.unconfirmed, `${what}; last confirmed ${last}`);
          return;
        }
      }
      if (past !== "yes") continue;
      const invariant =
        d.instance === get.instance ? INVARIANTS.deletingInstance : INVARIANTS.otherInstances;
      this.#violate(invariant, what);
      return;
    }
  }

  // Whether the GET started late enough that the DELETE must show: at once on the deleting
  // instance, within OTHERS_STOP_MS elsewhere unless the instance's table reads failed then
  // ("unchecked": the held token is served, by design, within the unconfirmed ceiling).
  #pastDelete(get: GetRecord, d: DeleteRecord): "yes" | "no" | "unchecked" {
    if (d.resolved === undefined) return "no";
    // A GET that began before the 204, in the same instant, may still have joined work begun
    // before the DELETE; one that began after it may not.
    if (d.instance === get.instance) return get.order > (d.resolvedOrder ?? 0) ? "yes" : "no";
    if (get.start < (d.applied ?? d.resolved) + OTHERS_STOP_MS) return "no";
    const view = this.#view(get.instance, get.profile);
    // The instance could not check: its table read failed during this GET, or so recently that
    // it serves its held token unconfirmed until it tries again. The retry is counted from when
    // the vendor decided to serve unconfirmed, which may come a secret read after the failed
    // table read.
    const lastFailure = view.lastReadFailure ?? Number.NEGATIVE_INFINITY;
    const couldNotCheck = lastFailure >= get.start - UNCONFIRMED_RETRY_MS - WORST_AWS_CALL_MS;
    return couldNotCheck ? "unchecked" : "yes";
  }

  // A token the vendor should have served instead of failing: one of the current identity that
  // stood in a healthy table throughout the GET.
  #availableInTable(get: GetRecord): string | undefined {
    const now = this.#now();
    if (this.#disturbedSince(get)) return undefined;
    const table = this.#table.get(get.profile);
    const token = table?.item;
    if (
      token &&
      table.changed <= get.start &&
      this.#lastStoreFault < get.start &&
      this.tokens.get(token.accessToken)?.version === this.#currentVersion(get.profile) &&
      isUsable(token, now, get.minValiditySeconds)
    ) {
      return `the table held ${fp(token.accessToken)} (${remainingSeconds(token, now)}s left) throughout`;
    }
    return undefined;
  }

  // The one this instance last served, while every table read since then failed and nothing (a
  // DELETE, a rotation, a newer token) replaced it, and the table confirmed it recently enough.
  #availableHeld(get: GetRecord): string | undefined {
    const now = this.#now();
    const current = this.#currentVersion(get.profile);
    if (this.#disturbedSince(get)) return undefined;
    const view = this.#view(get.instance, get.profile);
    const held = view.held;
    if (!held) return undefined;
    const heldInfo = this.tokens.get(held.token.accessToken);
    const replaced =
      heldInfo?.version !== current ||
      (this.#lastDeleteStart.get(this.#profileOf(get.profile)) ?? Number.NEGATIVE_INFINITY) >=
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

  // A secret that could not be read, or a rotation, during the GET: the vendor cannot know the
  // current identity, so it may rightly serve nothing.
  #disturbedSince(get: GetRecord): boolean {
    if (this.#lastSecretFault >= get.start) return true;
    const rotated = this.#lastRotation.get(this.#profileOf(get.profile));
    return (rotated ?? Number.NEGATIVE_INFINITY) >= get.start;
  }

  // A request longer than its worst case, on an instance that was not frozen meanwhile: in Lambda
  // the caller would get API Gateway's error instead of the function's answer.
  #checkDuration(instance: number, start: number, worst: number, who: string): void {
    const took = this.#now() - start;
    if (took <= worst || this.#frozenDuring(instance, start, this.#now())) return;
    this.#violate(
      INVARIANTS.requestTime,
      `${who} answered after ${(took / 1000).toFixed(1)} s, over its worst case of ${worst / 1000} s`,
    );
  }

  // A request inside a back-off the table held long enough before it that the sender's guard read
  // of the record (sent at most one AWS call before the attempt: a slower read is read again) saw
  // it, unless that read failed (the vendor then counts no back-off).
  #checkBackOff(instance: number, profile: string, now: number): void {
    // Back-offs are the tenant's: recorded and read per profile, whatever the set.
    if (this.#view(instance, this.#profileOf(profile)).backOffReadFailed) return;
    const seen = (this.#backOffs.get(this.#profileOf(profile)) ?? []).find(
      (b) => b.at < now - WORST_AWS_CALL_MS && now < b.until,
    );
    if (!seen) return;
    this.#violate(
      INVARIANTS.backOff,
      `i${instance} asked CyberArk for ${profile} inside the back-off recorded at ${this.#trace.time(seen.at)} until ${this.#trace.time(seen.until)}`,
    );
  }

  // No request within a quarter lifetime of the last token, unless something disturbed the
  // cache since: a DELETE, a rotation, this instance being frozen, the last request's holder
  // being frozen before its token reached the table, or a table failure, including one shortly
  // before the last request (that request may have been made under a lease failed open, while
  // its holder asked too).
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
      since(this.#lastDeleteStart, this.#profileOf(profile)) >= last.sentAt - WORST_REQUEST_MS ||
      since(this.#lastRotation, this.#profileOf(profile)) >=
        last.sentAt - ROTATION_WINDOW_MS - WORST_REQUEST_MS ||
      this.#lastStoreFault >= last.sentAt - FAIL_OPEN_MS ||
      since(this.#lastThaw, instance) >= last.sentAt ||
      // The last request's holder was frozen before its token reached the table: once its lease
      // ran out, another instance could not see the token, and rightly asked again.
      this.#frozenDuring(last.instance, last.sentAt, last.storedAt ?? now);
    if (disturbed) return;
    this.#violate(
      INVARIANTS.perLifetime,
      `i${instance} asked CyberArk for ${profile} ${((now - last.sentAt) / 1000).toFixed(1)}s after the request for a ${last.lifetimeSeconds}s token`,
    );
  }

  // Whether `instance` was refreshing the profile without a lease at `at`: its acquisition failed
  // (the lease failed open) no longer ago than the lease it asked for would have lasted.
  #failedOpenAt(instance: number, profile: string, at: number): boolean {
    return this.#view(instance, profile).failedOpen.some((w) => w.from <= at && at <= w.to);
  }

  // Whether `instance` was frozen at any moment between `from` and `to`.
  #frozenDuring(instance: number, from: number, to: number): boolean {
    return (this.#freezes.get(instance) ?? []).some((f) => f.from < to && f.to > from);
  }

  // Says when an instance thawed shortly (within a lease) before it sent a request: a holder
  // frozen past its lease's expiry is the usual story behind two requests at once.
  #thawNote(instance: number, sentAt: number): string {
    const thaw = this.#lastThaw.get(instance);
    if (thaw === undefined || thaw > sentAt || sentAt - thaw > LEASE_MS) return "";
    return ` (i${instance} thawed at ${this.#trace.time(thaw)})`;
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
      view = { confirmations: new Map(), failedOpen: [] };
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
