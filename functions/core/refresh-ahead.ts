/**
 * Refresh ahead: once a served token enters its renewal window, one background renewal per
 * profile, so steady traffic never waits for CyberArk. The caller already has a usable token, so a
 * failed renewal is only logged, and the next attempt waits {@link RENEWAL_RETRY_MS}.
 *
 * In Lambda the work may be frozen with the instance and resume on its next invocation; the lease
 * expiry and the conditional table write make that harmless.
 */
import { logReason } from "./errors.js";
import type { Clock, Logger } from "./ports.js";
import { RENEWAL_RETRY_MS } from "./timing.js";
import { type CachedToken, isDueForRenewal } from "./token.js";

/** Schedules background renewals. One per function instance. */
export class RefreshAhead {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #running = new Map<string, Promise<void>>();
  readonly #failedAt = new Map<string, number>();

  constructor(clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /**
   * Starts `renew` in the background when `token` is due for renewal, no renewal of the profile
   * runs, `busy` is false (a refresh is already under way) and the last failure is old enough.
   */
  consider(
    profile: string,
    token: CachedToken,
    minValiditySeconds: number,
    busy: boolean,
    renew: () => Promise<void>,
  ): void {
    const now = this.#clock.now();
    if (busy || this.#running.has(profile)) return;
    if (!isDueForRenewal(token, now, minValiditySeconds)) return;
    if (now - (this.#failedAt.get(profile) ?? Number.NEGATIVE_INFINITY) < RENEWAL_RETRY_MS) return;
    const renewal = renew()
      .catch((error: unknown) => {
        this.#failedAt.set(profile, this.#clock.now());
        this.#logger.warn("background renewal failed; the current token is served while valid", {
          profile,
          reason: logReason(error),
        });
      })
      .finally(() => this.#running.delete(profile));
    this.#running.set(profile, renewal);
  }

  /** The background renewal of `profile` under way, if any; it never rejects. */
  running(profile: string): Promise<void> | undefined {
    return this.#running.get(profile);
  }

  /** Forgets a recent failure, so the next due token is renewed at once. */
  forget(profile: string): void {
    this.#failedAt.delete(profile);
  }
}
