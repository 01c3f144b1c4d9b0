/**
 * The miss path: what happens when memory cannot answer. The table first; then, under the
 * cross-instance refresh lease, CyberArk. Renewals (ahead of need, or on the schedule of
 * `prewarm` profiles) and the fallback after a failure take the same path: each is one
 * {@link RefreshAttempt}, which states the rules about identities, `DELETE`s and the lease.
 */

import type { ClientCredentials } from "./credentials.js";
import { UpstreamUnavailableError } from "./errors.js";
import { METRICS } from "./metrics.js";
import type { Metrics } from "./ports.js";
import type { Profile } from "./profiles.js";
import { type AttemptParts, RefreshAttempt } from "./refresh-attempt.js";
import type { LeaseHold, RefreshLease } from "./refresh-lease.js";
import type { ScopeSet } from "./scope-set.js";
import { LEASE_LEFT_AFTER_LATE_PLACE_MS, WORST_TABLE_CALL_MS } from "./timing.js";
import {
  type CachedToken,
  grantedLifetimeSeconds,
  isDueForRenewal,
  isUsable,
  remainingSeconds,
} from "./token.js";
import type { VendedToken } from "./vendor-types.js";

/** The levels the refresher works through. */
export interface RefresherParts extends AttemptParts {
  readonly lease: RefreshLease;
  readonly metrics: Metrics;
}

/** What a scheduled renewal of one profile did. */
export type ScheduledRenewal = "renewed" | "fresh" | "busy";

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
  ): Promise<VendedToken> {
    const attempt = new RefreshAttempt(this.#p, profile, set);
    const { started } = attempt;
    const read = await attempt.read();
    const stored = read.status === "hit" ? read.token : undefined;
    // The set's place, when it needs one, is asked beside the secret read (live-places.ts).
    const placing = attempt.needsPlace(read) ? attempt.ensurePlace(read) : undefined;
    placing?.catch(() => {}); // awaited below, unless the table or memory answers first
    let credentials = await attempt.credentialsFor(read, started);
    const key = attempt.key(credentials);

    // The table could not confirm or deny what we hold: serve it for a while, unconfirmed.
    const unconfirmed = read.status === "unavailable" && attempt.slot.memory.unconfirmed(key, min);
    if (unconfirmed) return { token: unconfirmed, cache: "memory", asked: set };
    const { memory } = attempt.current;
    if (memory.held()?.token.cacheKey !== key) memory.drop();
    const served = attempt.fromTable(stored, credentials, min, started);
    if (served) return served;
    await placing;
    return this.#p.lease.runOrWait(
      profile.name,
      set,
      (hold) => this.#underLease(attempt, credentials, min, hold),
      async () => {
        const polledAt = this.#p.clock.now();
        const polled = await attempt.read();
        credentials = await attempt.credentialsFor(polled, polledAt);
        const token = polled.status === "hit" ? polled.token : undefined;
        return attempt.fromTable(token, credentials, min, polledAt);
      },
      deadline,
    );
  }

  /**
   * After CyberArk failed: a recently confirmed token of the current identity that lasts `min`,
   * held in memory, else in the table (which may have recovered since the failed refresh read
   * it), else held by now (another request may have confirmed one meanwhile). The table is read
   * only when its worst read ends by `deadline` (epoch ms): an answer must not come after the
   * function's timeout. Never throws.
   */
  async fallback(
    profile: Profile,
    set: ScopeSet,
    min: number,
    deadline: number,
  ): Promise<VendedToken | undefined> {
    const held = () => {
      const attempt = new RefreshAttempt(this.#p, profile, set);
      const { credentials, memory } = attempt.current;
      const current = credentials.last();
      const key = current && attempt.key(current);
      const token = key === undefined ? undefined : memory.fallback(key, min);
      return token && { token, cache: "memory" as const, asked: set };
    };
    const fromTable = async () => {
      const readAt = this.#p.clock.now();
      if (readAt + WORST_TABLE_CALL_MS > deadline) return undefined;
      const attempt = new RefreshAttempt(this.#p, profile, set);
      const read = await attempt.read();
      const current = attempt.current.credentials.last();
      if (read.status !== "hit" || !current) return undefined;
      return attempt.fromTable(read.token, current, min, readAt);
    };
    return held() ?? (await fromTable()) ?? held();
  }

  /** Refresh ahead: renews a token entering its renewal window, unless another instance is. */
  async renewAhead(profile: Profile, set: ScopeSet, min: number): Promise<void> {
    await this.#renew(
      profile,
      set,
      "ahead",
      (token) => !isDueForRenewal(token, this.#p.clock.now(), min),
    );
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
    const attempt = new RefreshAttempt(this.#p, profile, set);
    const run = await this.#p.lease.tryRun(profile.name, set, async (hold) => {
      const readAt = this.#p.clock.now();
      const read = await attempt.read();
      if (read.status === "unavailable") {
        throw new UpstreamUnavailableError({
          dependency: "table",
          kind: "failed",
          detail: "the token table cannot be read; renewal skipped",
          retryAfterSeconds: 5,
        });
      }
      const credentials = await attempt.credentialsFor(read, readAt);
      const stored = read.status === "hit" ? read.token : undefined;
      const current = attempt.fromTable(stored, credentials, 0, readAt);
      if (current && stillFresh(current.token)) return "fresh" as const;
      const other = attempt.current.exchange; // a request's exchange: it renews
      if (other) return other.then(() => "busy" as const);
      await attempt.ensurePlace(read);
      await attempt.upstream(credentials, hold, readAt, read);
      this.#p.metrics.add(METRICS.renewals, profile.name, 1, trigger);
      return "renewed" as const;
    });
    return run.ran ? run.value : "busy";
  }

  // Another instance may have finished between our read and our lease (or a rotation or a DELETE
  // happened meanwhile), so read once more, and the secret too when the table now disagrees, and
  // the set's place too. An exchange of the profile under way on this instance is waited for,
  // then the table read again.
  async #underLease(
    attempt: RefreshAttempt,
    known: ClientCredentials,
    min: number,
    hold: LeaseHold,
    afterOther = false,
  ): Promise<VendedToken> {
    const readAt = this.#p.clock.now();
    const read = await attempt.read();
    const stored = read.status === "hit" ? read.token : undefined;
    const agrees = stored?.cacheKey === attempt.key(known);
    const credentials = agrees ? known : await attempt.credentialsFor(read, readAt);
    const served = attempt.fromTable(stored, credentials, min, readAt);
    if (served) return served;
    const other = attempt.current.exchange; // profile-slot.ts: wait, then read again
    if (other && afterOther) {
      throw new UpstreamUnavailableError({
        dependency: "lease",
        kind: "busy",
        detail: "another exchange of the scope set on this instance is under way",
        retryAfterSeconds: 1,
      });
    }
    if (other) {
      await other;
      return this.#underLease(attempt, credentials, min, hold, true);
    }
    // A DELETE since the place was taken (by this work, or by work whose lease this took over)
    // dropped every place: the set asks again before CyberArk is asked, as a new set would.
    if (attempt.needsPlace(read)) {
      await attempt.ensurePlace(read);
      hold.ensureLeft(LEASE_LEFT_AFTER_LATE_PLACE_MS); // else 503: the ask is not in the budget
    }
    // The DELETE records exactly as read: the only ones the write may go by (deletion-record.ts).
    const token = await attempt.upstream(credentials, hold, readAt, read);
    // A slow exchange of a short-lived token can end after the token is of no use to the caller.
    if (!isUsable(token, this.#p.clock.now(), min)) {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "unusable",
        detail: "the identity provider granted a token too short-lived to serve",
        retryAfterSeconds: 1,
      });
    }
    return { token, cache: "upstream", asked: attempt.set };
  }
}
