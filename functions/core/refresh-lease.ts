/**
 * The cross-instance refresh lease: one lease item per scope set of a profile in the token table,
 * taken with a conditional write, so across all function instances one scope set causes at most
 * one CyberArk request at a time (and a profile at most one per live set, `live-sets.ts`). The holder refreshes; the others poll the table for its token, and take over
 * a lease whose holder died once it expires, but only early in their wait (see `timing.ts`).
 *
 * Policy when the table cannot be written: the lease **fails open**. Callers keep getting tokens,
 * and the profile slot's flight still bounds CyberArk to one request per instance and profile.
 * Failing closed would turn a DynamoDB outage into a token outage for every caller. A lease that
 * failed open ends when the lease it stands for would have: work thawed after a Lambda freeze
 * must not ask CyberArk long after, when the table works again and another instance may hold the
 * real lease (or has been told to back off).
 *
 * A grant whose call took longer than any AWS call can ({@link WORST_AWS_CALL_MS}) is not used:
 * the instance was frozen (or the call stalled) while the lease write was on its way, and it landed
 * with the times of before, judged against a stale clock. The store refuses a live lease only when
 * its end is one a lease taken now could have (`until` plus the clock skew: a later end is an edit
 * that must not stop a profile, which the table's writer rules rely on), so such a late write may
 * have overwritten a live holder who is asking CyberArk right now. The instance then neither asks
 * CyberArk nor releases the lease (that would free it for a third instance while the overwritten
 * holder still asks); it waits like any other waiter, and the lease it wrote ends by itself.
 */
import { randomUUID } from "node:crypto";
import { describeUnknown, UpstreamUnavailableError } from "./errors.js";
import { METRICS } from "./metrics.js";
import { type Clock, type Logger, type Metrics, NO_METRICS, type TokenStore } from "./ports.js";
import type { ScopeSet } from "./scope-set.js";
import {
  LEASE_MS,
  LEASE_POLL_MS,
  LEASE_TAKEOVER_MS,
  LEASE_WAIT_MS,
  WORST_AWS_CALL_MS,
  WORST_LEASED_REFRESH_MS,
  WORST_POLL_ROUND_MS,
} from "./timing.js";

/** What {@link RefreshLease} needs. */
export interface RefreshLeaseDependencies {
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits between polls. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Counts requests that waited for another instance. @default no metrics */
  readonly metrics?: Metrics;
}

/**
 * The lease as the work under it sees it. A Lambda instance can be frozen at any await and
 * thawed long after its lease expired; work checks before each step that must not outlive the
 * lease (a CyberArk request) that enough of it is left.
 */
export interface LeaseHold {
  /**
   * @throws {UpstreamUnavailableError} when less than `ms` of the lease is left.
   */
  ensureLeft(ms: number): void;
}

/** The outcome of {@link RefreshLease.tryRun}. */
export type LeaseRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/** Seconds a caller is told to wait when another instance's refresh did not finish in time. */
const LEASE_RETRY_AFTER_SECONDS = 2;

/** Runs refreshes under a scope set's lease. */
export class RefreshLease {
  readonly #deps: RefreshLeaseDependencies;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(deps: RefreshLeaseDependencies) {
    this.#deps = deps;
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Runs `work` holding the lease, or does nothing when another owner holds it. Each acquisition
   * has its own owner ID: work frozen past its lease (a Lambda freeze) and thawed later must not
   * release a lease that newer work of the same instance has taken since.
   */
  async tryRun<T>(
    profile: string,
    set: ScopeSet,
    work: (hold: LeaseHold) => Promise<T>,
  ): Promise<LeaseRun<T>> {
    const owner = randomUUID();
    const hold = await this.#acquire(profile, set, owner);
    if (!hold) return { ran: false };
    try {
      return { ran: true, value: await work(hold) };
    } finally {
      await this.#release(profile, set, owner);
    }
  }

  /**
   * Runs `work` under the lease, or, while another instance holds it, polls with `poll` until
   * that one's result is in the table. Takes a dead holder's lease over only within the first
   * {@link LEASE_TAKEOVER_MS} of waiting. Begins nothing that may end after `deadline` (epoch ms,
   * the request's): a refresh under the lease, or a pause and a poll.
   * @throws {UpstreamUnavailableError} when the holder did not finish within {@link LEASE_WAIT_MS}
   * or by the deadline.
   */
  async runOrWait<T>(
    profile: string,
    set: ScopeSet,
    work: (hold: LeaseHold) => Promise<T>,
    poll: () => Promise<T | undefined>,
    deadline: number,
  ): Promise<T> {
    const { clock } = this.#deps;
    const started = clock.now();
    for (let round = 0; ; round += 1) {
      const waited = clock.now() - started;
      if (waited < LEASE_TAKEOVER_MS && clock.now() + WORST_LEASED_REFRESH_MS <= deadline) {
        const run = await this.tryRun(profile, set, work);
        if (run.ran) return run.value;
      }
      if (round === 0) (this.#deps.metrics ?? NO_METRICS).add(METRICS.leaseWaits, profile, 1);
      if (waited >= LEASE_WAIT_MS || clock.now() + WORST_POLL_ROUND_MS > deadline) {
        throw new UpstreamUnavailableError({
          dependency: "lease",
          kind: "busy",
          detail: `another instance held the refresh lease of "${profile}" longer than this request could wait`,
          retryAfterSeconds: LEASE_RETRY_AFTER_SECONDS,
        });
      }
      await this.#sleep(LEASE_POLL_MS * (0.5 + this.#random()));
      const polled = await poll();
      if (polled !== undefined) return polled;
    }
  }

  async #acquire(profile: string, set: ScopeSet, owner: string): Promise<LeaseHold | undefined> {
    const { clock } = this.#deps;
    const asked = clock.now();
    const until = asked + LEASE_MS;
    const hold: LeaseHold = { ensureLeft: (ms) => ensureLeft(profile, until - clock.now(), ms) };
    try {
      const granted = await this.#deps.store.acquireLease(profile, set, owner, asked, until);
      if (!granted) return undefined;
      // Frozen or stalled on the way, maybe over a live lease: not ours to use (see the module).
      return clock.now() - asked <= WORST_AWS_CALL_MS ? hold : undefined;
    } catch (error) {
      this.#deps.logger.warn("refresh lease unavailable; refreshing without it", {
        profile,
        reason: describeUnknown(error),
      });
      return hold; // fail open, for as long as the lease would have lasted: see the module's policy
    }
  }

  async #release(profile: string, set: ScopeSet, owner: string): Promise<void> {
    try {
      await this.#deps.store.releaseLease(profile, set, owner);
    } catch (error) {
      // The lease expires by itself; nothing is lost but a little waiting elsewhere.
      this.#deps.logger.warn("refresh lease release failed", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }
}

function ensureLeft(profile: string, leftMs: number, neededMs: number): void {
  if (leftMs >= neededMs) return;
  throw new UpstreamUnavailableError({
    dependency: "lease",
    kind: "busy",
    detail: `the refresh lease of "${profile}" had ${Math.max(0, leftMs)} ms left, too little to ask the identity provider`,
    retryAfterSeconds: LEASE_RETRY_AFTER_SECONDS,
  });
}
