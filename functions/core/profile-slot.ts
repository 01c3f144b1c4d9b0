/**
 * Everything one function instance knows about one scope set of one profile, in one object: the
 * token it holds (and when the table last confirmed it), the flight that is fetching one, the
 * exchange with the identity provider under way, what the identity provider refused for the set,
 * the background renewal. What belongs to the profile as a whole (its credentials, a refusal of
 * those credentials, the tenant's back-off) is the slot's {@link ProfileGeneration}'s, shared by
 * every set (see `profile-slots.ts`).
 *
 * A `DELETE` replaces the profile's generation, and with it every slot of every set. Work begun
 * before it holds the old slot; whatever it finishes is kept only while its slot is still the
 * set's ({@link ProfileSlots.isCurrent}), so identity is the fence.
 *
 * One exchange with the provider per scope set at a time in the instance, whatever started it (a
 * request's miss, a renewal ahead of need, a scheduled renewal): the refresh lease does this
 * across instances, but while it fails open (the table cannot be written) a renewal holding the
 * real lease and a request refreshing without one could otherwise ask at once. A second caller
 * waits for the exchange under way to end (its token written, or not), then reads the table.
 */
import type { SlotCredentials } from "./credentials.js";
import type { UpstreamRejectedError } from "./errors.js";
import { HeldToken } from "./held-token.js";
import type { Clock } from "./ports.js";
import { emptyRecord, type ProfileRecord } from "./profile-record.js";
import type { Profile } from "./profiles.js";
import type { ScopeSet } from "./scope-set.js";
import type { VendedToken } from "./vendor-types.js";

/** A final refusal by the identity provider, remembered for the identity that got it. */
export interface Rejection {
  readonly cacheKey: string;
  readonly until: number;
  readonly error: UpstreamRejectedError;
}

/** What outlives a `DELETE` of the profile in this instance: about the tenant, not the tokens. */
export class ProfileShared {
  /** Until when the provider asked to be sent nothing for the profile (epoch ms). */
  backOffUntil = 0;
  /** The places this instance counts itself while the table fails (`refresh.ts`). */
  places: ProfileRecord<null> = emptyRecord();
}

/** One profile between two `DELETE`s in this instance: its credentials and its sets' slots. */
export class ProfileGeneration {
  readonly profile: Profile;
  readonly shared: ProfileShared;
  /** The credentials, with when they were read: one secret for every set. */
  readonly credentials: SlotCredentials;
  /** A refusal of the credentials themselves (`invalid_client`): it holds for every set. */
  clientRejection: Rejection | undefined;
  /** The slot of each scope set asked for, at most a bounded number kept (`profile-slots.ts`). */
  readonly sets = new Map<ScopeSet, ProfileSlot>();

  constructor(profile: Profile, shared: ProfileShared, credentials: SlotCredentials) {
    this.profile = profile;
    this.shared = shared;
    this.credentials = credentials;
  }
}

/** One scope set of one profile in this instance. */
export class ProfileSlot {
  readonly profile: Profile;
  readonly set: ScopeSet;
  readonly generation: ProfileGeneration;
  /** The token held in memory. */
  readonly memory: HeldToken;
  /** The refresh under way for requests that missed the memory, if any. */
  flight: Promise<VendedToken> | undefined;
  /** The provider's last final refusal of this set, if still remembered. */
  rejection: Rejection | undefined;
  /** The background renewal under way, if any; it never rejects. */
  renewal: Promise<void> | undefined;
  /** When the last background renewal failed (epoch ms). */
  renewalFailedAt = Number.NEGATIVE_INFINITY;
  /** When a request last used the slot, in the instance's count of uses: the idle ones go first. */
  usedAt = 0;
  /** The exchange under way, write included, as a promise that settles (never rejects) at its end. */
  #exchange: Promise<void> | undefined;

  constructor(
    generation: ProfileGeneration,
    set: ScopeSet,
    clock: Clock,
    isCurrent: () => boolean,
  ) {
    this.profile = generation.profile;
    this.set = set;
    this.generation = generation;
    this.memory = new HeldToken(clock, isCurrent);
  }

  /** The profile's credentials (every set's). */
  get credentials(): SlotCredentials {
    return this.generation.credentials;
  }

  /** Until when the provider asked to be sent nothing for the profile (every set's, epoch ms). */
  get backOffUntil(): number {
    return this.generation.shared.backOffUntil;
  }

  set backOffUntil(until: number) {
    this.generation.shared.backOffUntil = until;
  }

  /** Whether nothing runs in the slot: it may be let go. */
  get idle(): boolean {
    return !this.flight && !this.renewal && !this.#exchange;
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

  /** The set's exchange under way in this instance, if any: it settles, never rejects. */
  get exchange(): Promise<void> | undefined {
    return this.#exchange;
  }

  /** Runs `exchange` as the set's one exchange. Call it right after {@link exchange} was none. */
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
