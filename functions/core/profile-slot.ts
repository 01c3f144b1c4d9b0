/**
 * Everything one function instance knows about one profile, in one object: the token it holds
 * (and when the table last confirmed it), the flight that is fetching one, what the identity
 * provider refused or asked for (a rejection, a back-off), the background renewal, and the
 * credentials with the time they were read.
 *
 * A `DELETE` replaces the profile's slot whole. Work begun before it holds the old slot; whatever
 * it finishes is kept only while its slot is still the profile's ({@link ProfileSlots.isCurrent}),
 * so identity is the fence. Only the provider's back-off (about the tenant, not the dropped token)
 * and a renewal under way (which ends by itself, fenced like any work) pass to the new slot.
 * (Later, slots may be keyed by profile and scope set.)
 */
import { SlotCredentials } from "./credentials.js";
import type { UpstreamRejectedError } from "./errors.js";
import { HeldToken } from "./held-token.js";
import type { Clock, SecretSource } from "./ports.js";
import type { Profile } from "./profiles.js";
import type { VendedToken } from "./vendor-types.js";

/** A final refusal by the identity provider, remembered for the identity that got it. */
export interface Rejection {
  readonly cacheKey: string;
  readonly until: number;
  readonly error: UpstreamRejectedError;
}

/** One profile's state in this instance. */
export class ProfileSlot {
  readonly profile: Profile;
  /** The token held in memory. */
  readonly memory: HeldToken;
  /** The credentials, with when they were read. */
  readonly credentials: SlotCredentials;
  /** The refresh under way for requests that missed the memory, if any. */
  flight: Promise<VendedToken> | undefined;
  /** The provider's last final refusal, if still remembered. */
  rejection: Rejection | undefined;
  /** Until when the provider asked to be sent nothing for the profile (epoch ms). */
  backOffUntil = 0;
  /** The background renewal under way, if any; it never rejects. */
  renewal: Promise<void> | undefined;
  /** When the last background renewal failed (epoch ms). */
  renewalFailedAt = Number.NEGATIVE_INFINITY;

  constructor(profile: Profile, parts: SlotParts, isCurrent: () => boolean) {
    this.profile = profile;
    this.memory = new HeldToken(parts.clock, isCurrent);
    this.credentials = new SlotCredentials(parts.secrets, parts.clock, profile.secretId);
  }

  /** Runs `work` as the slot's flight, or joins the one under way. */
  fly(work: () => Promise<VendedToken>): Promise<VendedToken> {
    if (this.flight) return this.flight;
    const flight = work().finally(() => {
      if (this.flight === flight) this.flight = undefined;
    });
    this.flight = flight;
    return flight;
  }
}

/** What every slot is built with. */
export interface SlotParts {
  readonly secrets: SecretSource;
  readonly clock: Clock;
}

/** The slots of one instance, one per profile. */
export class ProfileSlots {
  readonly #parts: SlotParts;
  readonly #slots = new Map<string, ProfileSlot>();

  constructor(parts: SlotParts) {
    this.#parts = parts;
  }

  /** The profile's current slot (a fresh one the first time). */
  of(profile: Profile): ProfileSlot {
    return this.#slots.get(profile.name) ?? this.replace(profile);
  }

  /** Whether no `DELETE` replaced `slot` since it was made. */
  isCurrent(slot: ProfileSlot): boolean {
    return this.#slots.get(slot.profile.name) === slot;
  }

  /**
   * Replaces the profile's slot with a fresh one (a `DELETE`): everything the old one knew is
   * dropped but the provider's back-off and the renewal under way (which ends by itself).
   */
  replace(profile: Profile): ProfileSlot {
    const old = this.#slots.get(profile.name);
    const slot: ProfileSlot = new ProfileSlot(profile, this.#parts, () => this.isCurrent(slot));
    if (old) {
      slot.backOffUntil = old.backOffUntil;
      slot.renewal = old.renewal;
      old.memory.drop();
    }
    this.#slots.set(profile.name, slot);
    return slot;
  }
}
