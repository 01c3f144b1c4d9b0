/**
 * The miss path, when memory cannot answer: read the profile's record; serve the set's token if
 * it is the caller's identity's and lasts; else take the set's lease (and place) with one
 * conditional write and obtain a token under it (`leased-exchange.ts`). While another owner holds
 * the lease, poll the record; take a dead holder's lease over only early in the wait
 * (`timing.ts`). Renewals and the fallback after a failure take the same path.
 *
 * Policy when the table fails: fail open. The held token is served unconfirmed for a while
 * (`held-token.ts`); otherwise the instance asks CyberArk itself, one exchange per set at a time
 * (`profile-slot.ts`), under a lease that ends when a real one would have.
 */
import { randomUUID } from "node:crypto";
import { type Caller, callerDigest } from "./callers.js";
import type { ClientCredentials } from "./credentials.js";
import { UpstreamUnavailableError } from "./errors.js";
import { METRICS } from "./metrics.js";
import type { Clock, Logger, Metrics } from "./ports.js";
import {
  type LeaseAsk,
  type LeaseDecision,
  pruned,
  takeLease,
  writeToken,
} from "./profile-record.js";
import type { ProfileSlots } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import type { Reading, SharedRecords } from "./records.js";
import { stampOf } from "./records.js";
import { backingOff, leaseBusy, placesFull, tooShort } from "./refusals.js";
import { type ScopeSet, setTag } from "./scope-set.js";
import {
  LEASE_MS,
  LEASE_POLL_MS,
  LEASE_TAKEOVER_MS,
  LEASE_WAIT_MS,
  WORST_LEASED_REFRESH_MS,
  WORST_POLL_ROUND_MS,
} from "./timing.js";
import {
  type CachedToken,
  grantedLifetimeSeconds,
  isDueForRenewal,
  isUsable,
  remainingSeconds,
} from "./token.js";
import type { VendedToken } from "./vendor-types.js";
import { fallback, type Hold, type LeasedRunner, lifeOf, Work } from "./work.js";

/** What the refresher works with. */
export interface RefresherParts {
  readonly slots: ProfileSlots;
  readonly records: SharedRecords;
  readonly leased: LeasedRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
}

/** What a scheduled renewal of one profile did. */
type ScheduledRenewal = "renewed" | "fresh" | "busy";

type Read = Awaited<ReturnType<Work["read"]>>;

/** Refreshes tokens past the memory level. One per function instance. */
export class Refresher {
  readonly #p: RefresherParts;

  constructor(parts: RefresherParts) {
    this.#p = parts;
  }

  /**
   * A token valid for `min` seconds from the table, or from CyberArk under the lease; waiting
   * for another holder, or taking the lease, only as long as it can end by `deadline` (epoch ms).
   */
  async refresh(
    profile: Profile,
    set: ScopeSet,
    min: number,
    deadline: number,
    caller?: Caller,
  ): Promise<VendedToken> {
    const { clock, metrics } = this.#p;
    const work = new Work(this.#p, profile, set);
    let waitingSince: number | undefined;
    let waitedForOwn = false;
    for (;;) {
      const read = await work.read();
      const credentials = await work.credentialsFor(read);
      const key = work.key(credentials);
      const { memory } = work.current;
      // The table could not confirm or deny what we hold: serve it for a while, unconfirmed.
      const unconfirmed = read ? undefined : memory.unconfirmed(key, min);
      if (unconfirmed) return { token: unconfirmed, cache: "memory", asked: set };
      if (memory.held()?.token.cacheKey !== key) memory.drop();
      const served = read && work.fromTable(read, credentials, min);
      if (served) return served;
      const own = work.current.exchange; // this instance's exchange of the set: wait, read again
      if (own && !waitedForOwn) {
        waitedForOwn = true;
        await own;
        continue;
      }
      if (own) throw leaseBusy("another exchange of the scope set on this instance is under way");
      const now = clock.now();
      const waited = waitingSince === undefined ? 0 : now - waitingSince;
      if (waited < LEASE_TAKEOVER_MS && now + WORST_LEASED_REFRESH_MS <= deadline) {
        const token = await this.#tryLease(work, read, credentials, caller);
        if (token !== "held") return this.#served(token, min, set);
      }
      if (waitingSince === undefined) {
        waitingSince = now;
        metrics.add(METRICS.leaseWaits, profile.name, 1);
      }
      const late = clock.now() + WORST_POLL_ROUND_MS > deadline;
      if (late || clock.now() - waitingSince >= LEASE_WAIT_MS) {
        const detail = `another instance held the refresh lease of "${profile.name}" longer than this request could wait`;
        throw leaseBusy(detail, 2);
      }
      await this.#p.sleep(LEASE_POLL_MS * (0.5 + this.#p.random()));
    }
  }

  /** After CyberArk failed: see {@link fallback}. Never throws. */
  fallback(profile: Profile, set: ScopeSet, min: number, deadline: number) {
    return fallback(this.#p, profile, set, min, deadline);
  }

  /** Refresh ahead: renews a token entering its renewal window, unless another instance is. */
  async renewAhead(profile: Profile, set: ScopeSet, min: number): Promise<void> {
    const due = (token: CachedToken) => !isDueForRenewal(token, this.#p.clock.now(), min);
    await this.#renew(profile, set, "ahead", due);
  }

  /**
   * Scheduled renewal: renews a `prewarm` profile's default scope set when its table token is
   * missing or half spent. Other sets are renewed ahead of need by their own requests.
   */
  async renewOnSchedule(profile: Profile): Promise<ScheduledRenewal> {
    const fresh = (token: CachedToken) =>
      remainingSeconds(token, this.#p.clock.now()) >= grantedLifetimeSeconds(token) / 2;
    return this.#renew(profile, profile.defaultScopes, "schedule", fresh);
  }

  async #renew(
    profile: Profile,
    set: ScopeSet,
    trigger: "ahead" | "schedule",
    stillFresh: (token: CachedToken) => boolean,
  ): Promise<ScheduledRenewal> {
    const work = new Work(this.#p, profile, set);
    const read = await work.read();
    if (!read) {
      throw new UpstreamUnavailableError({
        dependency: "table",
        kind: "failed",
        detail: "the token table cannot be read; renewal skipped",
        retryAfterSeconds: 5,
      });
    }
    const credentials = await work.credentialsFor(read);
    const current = work.fromTable(read, credentials, 0);
    if (current && stillFresh(current.token)) return "fresh";
    const other = work.current.exchange; // a request's exchange: it renews
    if (other) return other.then(() => "busy" as const);
    const token = await this.#tryLease(work, read, credentials, undefined);
    if (token === "held") return "busy";
    this.#p.metrics.add(METRICS.renewals, profile.name, 1, trigger);
    return "renewed";
  }

  // Takes the set's lease (and place) and obtains a token under it; "held": another owner has it,
  // or the write lost a race (the caller reads again). Fails open when the table fails.
  async #tryLease(
    work: Work,
    read: Read,
    credentials: ClientCredentials,
    caller: Caller | undefined,
  ): Promise<CachedToken | "held"> {
    const { clock, records, leased } = this.#p;
    const now = clock.now();
    const defaultTag = setTag(work.profile.defaultScopes);
    const ask = { tag: work.tag, defaultTag, owner: randomUUID(), now, until: now + LEASE_MS };
    const fair = { ...ask, caller: callerDigest(caller) };
    if (!read) return this.#failOpen(work, credentials, fair);
    const { reading } = read;
    const decision: LeaseDecision<unknown> = takeLease(reading.record, fair);
    if (decision.kind === "held") return "held";
    if (decision.kind === "backing-off") {
      this.#p.slots.generation(work.profile).shared.backOffUntil = decision.until;
      throw backingOff(decision.until, now);
    }
    if (decision.kind === "full") throw this.#full(work, decision, now);
    // A write that creates the item gives it a new life, known here without another read.
    const born = reading.record.incarnation === undefined;
    const next = born ? { ...decision.next, incarnation: randomUUID() } : decision.next;
    const written = await records.write(work.profile.name, reading, next as Reading["record"]);
    if (written === false) return "held";
    if (written === undefined) return this.#failOpen(work, credentials, fair);
    // The write was conditioned on the record read: no DELETE came since the secret read.
    if (born) work.current.credentials.retag(stampOf(reading.record), stampOf(next));
    const hold = { owner: ask.owner, until: ask.until, stamp: lifeOf(next as Reading["record"]) };
    return leased.run(work, credentials, { ...hold, reading });
  }

  // The table failed: this instance counts the places itself (the same rule, on a record of its
  // own), and asks under a lease that ends when a real one would have, known only here.
  async #failOpen(work: Work, credentials: ClientCredentials, ask: LeaseAsk): Promise<CachedToken> {
    this.#p.logger.warn("refresh lease unavailable; refreshing without it", {
      profile: work.profile.name,
    });
    const shared = this.#p.slots.generation(work.profile).shared;
    const decision = takeLease(pruned(shared.places, ask.now), ask);
    if (decision.kind === "full") throw this.#full(work, decision, ask.now);
    if (decision.kind === "take") shared.places = decision.next;
    const stamp = { incarnation: "", epoch: 0 };
    const hold = { owner: ask.owner, until: ask.until, stamp, reading: undefined, open: true };
    const token = await this.#p.leased.run(work, credentials, hold as Hold);
    const kept = writeToken(shared.places, {
      ...{ tag: work.tag, owner: ask.owner, incarnation: undefined, epoch: 0, token: null },
      ...{ expiresAt: token.expiresAt, placeUntil: token.expiresAt },
    });
    if (kept.kind === "write") shared.places = kept.next;
    return token;
  }

  // A new set past the profile's or the caller's bound: logged with the set, never the caller.
  #full(work: Work, full: { bound: "profile" | "caller"; freesAt: number }, now: number) {
    const error = placesFull(full.bound, full.freesAt, now);
    const message = `scope set refused: the ${full.bound}'s live scope sets are at their bound`;
    const { retryAfterSeconds } = error;
    this.#p.logger.warn(message, {
      profile: work.profile.name,
      asked: work.set,
      retryAfterSeconds,
    });
    return error;
  }

  // A token just obtained is served when it lasts `min` (a slow exchange of a short-lived token
  // can end after it is of no use to the caller).
  #served(token: CachedToken, min: number, set: ScopeSet): VendedToken {
    if (isUsable(token, this.#p.clock.now(), min)) return { token, cache: "upstream", asked: set };
    throw tooShort("the identity provider granted a token too short-lived to serve");
  }
}
