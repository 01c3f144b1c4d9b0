/**
 * The bound on a profile's scope sets: at most {@link MAX_LIVE_SCOPE_SETS} sets of one profile
 * are live at once, across every instance, and only a live set may ask CyberArk for a token.
 *
 * Each distinct ask is its own cache entry (memory slot, table item, lease, single flight,
 * renewal), so without a bound a caller cycling through the subsets of its ceiling would make one
 * token request per ask. With it, a set takes a place before its first token request and keeps it
 * until its cached token expires (at least {@link SET_HOLD_MS}); the table records the places on
 * the profile's item. Per place, the single flight and the lease allow one token request at a
 * time, and a token obtained is cached and renewed once per lifetime. So whatever callers ask,
 * the tenant sees at most {@link MAX_LIVE_SCOPE_SETS} token requests per profile per token
 * lifetime on the success path; a failing set keeps its place for the hold, so cycling through
 * refused asks costs at most that many requests per {@link SET_HOLD_MS}. An ask for a new set past
 * the bound gets `503 upstream_unavailable` with a `Retry-After` until the soonest place frees.
 *
 * One place is the profile's default set's: callers that ask for nothing special are never locked
 * out by others' asks, and prewarm always has room.
 *
 * The rule is pure: the DynamoDB adapter, the test fake and the instance's own fallback (while the
 * table cannot be written) all call {@link admitSet}.
 */
import { MAX_LIFETIME_SECONDS } from "./token.js";

/** The most scope sets of one profile that may be live at once, the default set included. */
export const MAX_LIVE_SCOPE_SETS = 8;

/** How long a set keeps its place at least, once taken (a failed exchange keeps it too). */
export const SET_HOLD_MS = 5 * 60_000;

/** The longest `Retry-After` an ask past the bound is told, in seconds. */
export const MAX_SET_WAIT_SECONDS = 300;

// A place no genuine write can have made (a table edit) frees at once.
const LONGEST_PLACE_MS = MAX_LIFETIME_SECONDS * 1000 + SET_HOLD_MS;

/** The outcome of {@link admitSet}. */
export type SetAdmission =
  /** `live`: the places after the admission, expired ones dropped; `changed`: they must be written. */
  | {
      readonly admitted: true;
      readonly live: ReadonlyMap<string, number>;
      readonly changed: boolean;
    }
  /** `freesAt`: when the soonest place frees (epoch ms). */
  | { readonly admitted: false; readonly freesAt: number };

/**
 * Whether `set` may hold a place until `holdUntil` (epoch ms), given the places `live` (set ->
 * until when, epoch ms) at `now`. `reserved` (the profile's default set) always has room.
 */
export function admitSet(
  live: ReadonlyMap<string, number>,
  set: string,
  reserved: string,
  now: number,
  holdUntil: number,
): SetAdmission {
  const kept = new Map([...live].filter(([, until]) => isLive(until, now)));
  const pruned = kept.size !== live.size;
  const place = kept.get(set);
  if (place !== undefined && place >= holdUntil) {
    return { admitted: true, live: kept, changed: pruned };
  }
  const others = [...kept.keys()].filter((key) => key !== reserved);
  if (place === undefined && set !== reserved && others.length >= MAX_LIVE_SCOPE_SETS - 1) {
    const freesAt = Math.min(...others.map((key) => kept.get(key) ?? now));
    return { admitted: false, freesAt };
  }
  kept.set(set, Math.max(place ?? 0, holdUntil));
  return { admitted: true, live: kept, changed: true };
}

/** Seconds an ask past the bound is told to wait: until the soonest place frees, capped. */
export function setWaitSeconds(freesAt: number, now: number): number {
  return Math.min(MAX_SET_WAIT_SECONDS, Math.max(1, Math.ceil((freesAt - now) / 1000)));
}

function isLive(until: number, now: number): boolean {
  return Number.isSafeInteger(until) && until > now && until <= now + LONGEST_PLACE_MS;
}
