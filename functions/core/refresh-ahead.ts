/**
 * Refresh ahead: once a served token enters its renewal window, one background renewal per
 * scope set of a profile, so steady traffic never waits for CyberArk. The caller already has a usable token, so a
 * failed renewal is only logged, and the next attempt waits {@link RENEWAL_RETRY_MS}.
 *
 * In Lambda the work may be frozen with the instance and resume on its next invocation; the lease
 * expiry and the conditional table write make that harmless.
 */
import { logReason } from "./errors.js";
import type { Clock, Logger } from "./ports.js";
import type { ProfileSlots } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import type { ScopeSet } from "./scope-set.js";
import { RENEWAL_RETRY_MS } from "./timing.js";
import { type CachedToken, isDueForRenewal } from "./token.js";

/** Schedules background renewals, one per scope set, in the set's slot. */
export class RefreshAhead {
  readonly #slots: ProfileSlots;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(slots: ProfileSlots, clock: Clock, logger: Logger) {
    this.#slots = slots;
    this.#clock = clock;
    this.#logger = logger;
  }

  /**
   * Starts `renew` in the background when `token` is due for renewal, no renewal of the set runs,
   * no refresh is under way (the slot's flight) and the last failure is old enough.
   */
  consider(
    profile: Profile,
    set: ScopeSet,
    token: CachedToken,
    minValiditySeconds: number,
    renew: () => Promise<void>,
  ): void {
    const slot = this.#slots.of(profile, set);
    const now = this.#clock.now();
    if (slot.flight || slot.renewal) return;
    if (!isDueForRenewal(token, now, minValiditySeconds)) return;
    if (now - slot.renewalFailedAt < RENEWAL_RETRY_MS) return;
    const renewal: Promise<void> = renew()
      .catch((error: unknown) => {
        this.#slots.of(profile, set).renewalFailedAt = this.#clock.now();
        this.#logger.warn("background renewal failed; the current token is served while valid", {
          profile: profile.name,
          reason: logReason(error),
        });
      })
      .finally(() => {
        // A DELETE meanwhile handed the renewal on to the new slot: it ends there too.
        for (const held of [slot, this.#slots.of(profile, set)]) {
          if (held.renewal === renewal) held.renewal = undefined;
        }
      });
    slot.renewal = renewal;
  }
}
