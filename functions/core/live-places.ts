/**
 * A scope set's place among its profile's live sets (`live-sets.ts`), as the refresh takes it:
 * in the table, which every instance shares, or, while the table cannot be written, in this
 * instance's own count (the same rule), so an instance cut off from the table still asks CyberArk
 * for no more sets than the bound.
 *
 * The profile's default set needs no place (one is always kept for it), so a profile asked for
 * nothing else works exactly as before. Another set reads its place with its token
 * (`ProfileRecord.liveUntil`); only a set without one that lasts the refresh asks for it, so a set
 * in use costs no write, and a stored token keeps the place until it expires. The ask goes out
 * beside the secret read: at the table's worst a set's first request may then have too little of
 * its time left to take the lease over, and answers 503 (busy) rather than late.
 */
import { recordedProfileDeletion } from "./deletion-record.js";
import { UpstreamUnavailableError } from "./errors.js";
import { admitSet, MAX_LIVE_SCOPE_SETS, SET_HOLD_MS, setWaitSeconds } from "./live-sets.js";
import type { Clock, Logger, PlaceOutcome } from "./ports.js";
import type { ProfileShared } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import type { ScopeSet } from "./scope-set.js";
import type { TableCache, TableRead } from "./table-cache.js";
import { WORST_LEASED_REFRESH_MS } from "./timing.js";

/** What taking a place needs. */
export interface LivePlaces {
  readonly table: TableCache;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The profile's instance-wide state: its own count of places. */
  readonly shared: ProfileShared;
}

/**
 * Makes sure `set` holds a place that lasts a leased refresh, taking one when `read` shows none.
 * @returns where the place is: `table`, or `local` when only this instance counted it (then a
 * profile `DELETE` elsewhere cannot know of the set: see `refresh-attempt.ts`).
 * @throws {UpstreamUnavailableError} when the profile's live sets are at their bound (the
 * `Retry-After` says when the soonest frees), or a `DELETE` came since `read`.
 */
export async function ensurePlace(
  p: LivePlaces,
  profile: Profile,
  set: ScopeSet,
  read: TableRead,
): Promise<"table" | "local"> {
  if (!needsPlace(p, profile, set, read)) return "table";
  const now = p.clock.now();
  const outcome = await ask(p, profile, set, read, now + SET_HOLD_MS);
  if (outcome.taken) return outcome.local ? "local" : "table";
  const { freesAt } = outcome;
  const retryAfterSeconds = freesAt === undefined ? 1 : setWaitSeconds(freesAt, p.clock.now());
  p.logger.warn(
    freesAt === undefined
      ? "scope set not placed: a DELETE of the profile came meanwhile"
      : "scope set refused: the profile's live scope sets are at their bound",
    { profile: profile.name, asked: set, retryAfterSeconds },
  );
  throw new UpstreamUnavailableError({
    dependency: "identity",
    kind: "busy",
    detail:
      freesAt === undefined
        ? "a DELETE of the profile came while the scope set was placed"
        : `the profile already has ${MAX_LIVE_SCOPE_SETS} live scope sets; a new one may ask when one frees`,
    retryAfterSeconds,
  });
}

/** Whether `set` must ask for a place before a leased refresh, going by `read`. */
export function needsPlace(
  p: LivePlaces,
  profile: Profile,
  set: ScopeSet,
  read: TableRead,
): boolean {
  if (set === profile.defaultScopes) return false;
  const liveUntil = read.status === "unavailable" ? undefined : read.profile?.liveUntil;
  return liveUntil === undefined || liveUntil <= p.clock.now() + WORST_LEASED_REFRESH_MS;
}

/** Keeps `set`'s place until `until` (its stored token's expiry), as far as the bound allows. */
export async function keepPlace(
  p: LivePlaces,
  profile: Profile,
  set: ScopeSet,
  read: TableRead,
  until: number,
): Promise<void> {
  if (set === profile.defaultScopes) return;
  await ask(p, profile, set, read, until);
}

async function ask(
  p: LivePlaces,
  profile: Profile,
  set: ScopeSet,
  read: TableRead,
  holdUntil: number,
): Promise<PlaceOutcome & { readonly local?: true }> {
  const now = p.clock.now();
  const deletionRead = recordedProfileDeletion(read);
  const reserved = profile.defaultScopes;
  // A table that could not be read is not asked again: this instance counts its own places.
  const outcome =
    read.status === "unavailable"
      ? "unavailable"
      : await p.table.takePlace(profile.name, set, {
          ...{ reserved, now, holdUntil },
          ...(deletionRead === undefined ? {} : { deletionRead }),
        });
  if (outcome !== "unavailable") return outcome;
  const admitted = admitSet(p.shared.places, set, reserved, now, holdUntil);
  if (!admitted.admitted) return { taken: false, freesAt: admitted.freesAt };
  p.shared.places = admitted.live;
  return { taken: true, local: true };
}
