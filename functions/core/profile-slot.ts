/**
 * Everything one function instance knows about one profile, in one object: the token it holds
 * (and when the table last confirmed it), the flight that is fetching one, the exchange with the
 * identity provider under way, what the identity provider refused or asked for (a rejection, a
 * back-off), the background renewal, and the credentials with the time they were read.
 *
 * A `DELETE` replaces the profile's slot whole. Work begun before it holds the old slot; whatever
 * it finishes is kept only while its slot is still the profile's ({@link ProfileSlots.isCurrent}),
 * so identity is the fence. Only the provider's back-off (about the tenant, not the dropped token),
 * a renewal under way and an exchange under way (each ends by itself, fenced like any work) pass
 * to the new slot.
 *
 * One exchange with the provider per profile at a time in the instance, whatever started it (a
 * request's miss, a renewal ahead of need, a scheduled renewal): the refresh lease does this
 * across instances, but while it fails open (the table cannot be written) a renewal holding the
 * real lease and a request refreshing without one could otherwise ask at once. A second caller
 * waits for the exchange under way to end (its token written, or not), then reads the table.
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
  /** The exchange under way, write included, as a promise that settles (never rejects) at its end. */
  #exchange: Promise<void> | undefined;

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

  /** The profile's exchange under way in this instance, if any: it settles, never rejects. */
  get exchange(): Promise<void> | undefined {
    return this.#exchange;
  }

  /** Runs `exchange` as the profile's one exchange. Call it right after {@link exchange} was none. */
  takeTurn<T>(exchange: () => Promise<T>): Promise<T> {
    const result = exchange();
    this.adoptExchange(
      result.then(
        () => {},
        () => {},
      ),
    );
    return result;
  }

  /** Holds `ended` as the exchange under way until it settles (one begun in a replaced slot). */
  adoptExchange(ended: Promise<void>): void {
    this.#exchange = ended;
    void ended.then(() => {
      if (this.#exchange === ended) this.#exchange = undefined;
    });
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
   * dropped but the provider's back-off and the renewal and exchange under way (each ends by
   * itself).
   */
  replace(profile: Profile): ProfileSlot {
    const old = this.#slots.get(profile.name);
    const slot: ProfileSlot = new ProfileSlot(profile, this.#parts, () => this.isCurrent(slot));
    if (old) {
      slot.backOffUntil = old.backOffUntil;
      slot.renewal = old.renewal;
      if (old.exchange) slot.adoptExchange(old.exchange);
      old.memory.drop();
    }
    this.#slots.set(profile.name, slot);
    return slot;
  }
}
