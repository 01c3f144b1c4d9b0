/**
 * The slots of one instance: per profile, one generation (credentials, a refusal of them) and one
 * slot per scope set asked for (`profile-slot.ts`).
 *
 * Memory is bounded: a profile keeps at most {@link MAX_SLOTS_PER_PROFILE} slots; past that, the
 * slot used least recently among those with nothing running is let go (its token is still in the
 * table). Work still running in a slot keeps it, and such slots are bounded by the requests in
 * flight. So callers asking ever new sets cannot grow memory without limit.
 *
 * A `DELETE` replaces the profile's generation: every set's slot is dropped at once. Only the
 * tenant's back-off (about the tenant, not the dropped tokens), and each set's renewal and
 * exchange under way (each ends by itself, fenced like any work) pass to the new slots.
 */
import { SlotCredentials } from "./credentials.js";
import type { Clock, SecretSource } from "./ports.js";
import { MAX_LIVE_SETS } from "./profile-record.js";
import { ProfileGeneration, ProfileShared, ProfileSlot } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import type { ScopeSet } from "./scope-set.js";

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
