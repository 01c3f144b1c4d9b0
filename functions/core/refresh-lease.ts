/**
 * The cross-instance refresh lease: one lease item per profile in the token table, taken with a
 * conditional write, so across all function instances one profile causes at most one CyberArk
 * request at a time. The holder refreshes; the others poll the table for its token, and take over
 * a lease whose holder died once it expires, but only early in their wait (see `timing.ts`).
 *
 * Policy when the table cannot be written: the lease **fails open**. Callers keep getting tokens,
 * and the in-instance single flight still bounds CyberArk to one request per instance and profile.
 * Failing closed would turn a DynamoDB outage into a token outage for every caller.
 */
import { randomUUID } from "node:crypto";
import { describeUnknown, UpstreamUnavailableError } from "./errors.js";
import type { Clock, Logger, TokenStore } from "./ports.js";
import { LEASE_MS, LEASE_POLL_MS, LEASE_TAKEOVER_MS, LEASE_WAIT_MS } from "./timing.js";

/** What {@link RefreshLease} needs. */
export interface RefreshLeaseDependencies {
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits between polls. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** The outcome of {@link RefreshLease.tryRun}. */
export type LeaseRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/** Seconds a caller is told to wait when another instance's refresh did not finish in time. */
const LEASE_RETRY_AFTER_SECONDS = 2;

/** Runs refreshes under the profile's lease. */
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
  async tryRun<T>(profile: string, work: () => Promise<T>): Promise<LeaseRun<T>> {
    const owner = randomUUID();
    if (!(await this.#acquire(profile, owner))) return { ran: false };
    try {
      return { ran: true, value: await work() };
    } finally {
      await this.#release(profile, owner);
    }
  }

  /**
   * Runs `work` under the lease, or, while another instance holds it, polls with `poll` until
   * that one's result is in the table. Takes a dead holder's lease over only within the first
   * {@link LEASE_TAKEOVER_MS} of waiting.
   * @throws {UpstreamUnavailableError} when the holder did not finish within {@link LEASE_WAIT_MS}.
   */
  async runOrWait<T>(
    profile: string,
    work: () => Promise<T>,
    poll: () => Promise<T | undefined>,
  ): Promise<T> {
    const started = this.#deps.clock.now();
    for (;;) {
      const waited = this.#deps.clock.now() - started;
      if (waited < LEASE_TAKEOVER_MS) {
        const run = await this.tryRun(profile, work);
        if (run.ran) return run.value;
      }
      if (waited >= LEASE_WAIT_MS) {
        throw new UpstreamUnavailableError(
          `another instance held the refresh lease of "${profile}" for over ${LEASE_WAIT_MS} ms`,
          LEASE_RETRY_AFTER_SECONDS,
        );
      }
      await this.#sleep(LEASE_POLL_MS * (0.5 + this.#random()));
      const polled = await poll();
      if (polled !== undefined) return polled;
    }
  }

  async #acquire(profile: string, owner: string): Promise<boolean> {
    const now = this.#deps.clock.now();
    try {
      return await this.#deps.store.acquireLease(profile, owner, now, now + LEASE_MS);
    } catch (error) {
      this.#deps.logger.warn("refresh lease unavailable; refreshing without it", {
        profile,
        reason: describeUnknown(error),
      });
      return true; // fail open: see the module's policy
    }
  }

  async #release(profile: string, owner: string): Promise<void> {
    try {
      await this.#deps.store.releaseLease(profile, owner);
    } catch (error) {
      // The lease expires by itself; nothing is lost but a little waiting elsewhere.
      this.#deps.logger.warn("refresh lease release failed", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }
}
