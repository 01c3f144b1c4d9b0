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
import { SlotCredentials } from "./credentials.js";
import type { UpstreamRejectedError } from "./errors.js";
import { HeldToken } from "./held-token.js";
import type { Clock, SecretSource } from "./ports.js";
import { emptyRecord, MAX_LIVE_SETS, type ProfileRecord } from "./profile-record.js";
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

/*
 * The slots of one instance (`ProfileSlots`): memory is bounded, a profile keeping at most
 * MAX_SLOTS_PER_PROFILE slots; past that, the slot used least recently among those with nothing
 * running is let go (its token is still in the table). A `DELETE` replaces the profile's
 * generation: every set's slot is dropped at once; only the tenant's back-off and each set's
 * renewal and exchange under way (each ends by itself, fenced like any work) pass on.
 */
/** The most slots one profile keeps in memory: room for every live set, and as many passing. */
export const MAX_SLOTS_PER_PROFILE = 2 * MAX_LIVE_SETS;

/** What every slot is built with. */
export interface SlotParts {
  readonly secrets: SecretSource;
  readonly clock: Clock;
}

/** The slots of one instance. */
export class ProfileSlots {
  readonly #parts: SlotParts;
  readonly #generations = new Map<string, ProfileGeneration>();
  readonly #shared = new Map<string, ProfileShared>();
  // A count, not the clock: the warm path reads no time for it.
  #uses = 0;

  constructor(parts: SlotParts) {
    this.#parts = parts;
  }

  /** The set's current slot (a fresh one the first time), marked as used now. */
  of(profile: Profile, set: ScopeSet): ProfileSlot {
    const generation = this.generation(profile);
    const slot = generation.sets.get(set) ?? this.#add(generation, set);
    this.#uses += 1;
    slot.usedAt = this.#uses;
    return slot;
  }

  /** The profile's current generation (a fresh one the first time). */
  generation(profile: Profile): ProfileGeneration {
    return this.#generations.get(profile.name) ?? this.replace(profile);
  }

  /** The slots the profile holds now, one per set. */
  slotsOf(profile: Profile): ProfileSlot[] {
    return [...(this.#generations.get(profile.name)?.sets.values() ?? [])];
  }

  /** Whether no `DELETE` replaced `slot` (and it was not let go) since it was made. */
  isCurrent(slot: ProfileSlot): boolean {
    const generation = this.#generations.get(slot.profile.name);
    return generation === slot.generation && generation.sets.get(slot.set) === slot;
  }

  /**
   * Replaces the profile's generation with a fresh one (a `DELETE`): everything the old one knew
   * is dropped but the provider's back-off and each set's renewal and exchange under way.
   */
  replace(profile: Profile): ProfileGeneration {
    const old = this.#generations.get(profile.name);
    let shared = this.#shared.get(profile.name);
    if (!shared) {
      shared = new ProfileShared();
      this.#shared.set(profile.name, shared);
    }
    const { secrets, clock } = this.#parts;
    const credentials = new SlotCredentials(secrets, clock, profile.secretId);
    const generation = new ProfileGeneration(profile, shared, credentials);
    this.#generations.set(profile.name, generation);
    for (const slot of old?.sets.values() ?? []) {
      slot.memory.drop();
      if (slot.idle) continue;
      const next = this.#add(generation, slot.set);
      next.renewal = slot.renewal;
      if (slot.exchange) next.adoptExchange(slot.exchange);
    }
    return generation;
  }

  #add(generation: ProfileGeneration, set: ScopeSet): ProfileSlot {
    const { sets } = generation;
    if (sets.size >= MAX_SLOTS_PER_PROFILE) this.#letGoIdle(generation);
    const slot: ProfileSlot = new ProfileSlot(generation, set, this.#parts.clock, () =>
      this.isCurrent(slot),
    );
    sets.set(set, slot);
    return slot;
  }

  #letGoIdle(generation: ProfileGeneration): void {
    let oldest: ProfileSlot | undefined;
    for (const slot of generation.sets.values()) {
      if (slot.idle && (!oldest || slot.usedAt < oldest.usedAt)) oldest = slot;
    }
    if (!oldest) return;
    oldest.memory.drop();
    generation.sets.delete(oldest.set);
  }
}
