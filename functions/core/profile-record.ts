/**
 * A profile's shared record: the one table item that holds everything instances share about a
 * profile, and every transition of it as one pure function. `docs/protocol.md` states the same
 * rules in prose; the DynamoDB adapter, the in-memory store and the protocol's model check all
 * apply these functions, so the rule is stated once.
 *
 * Every transition but a `DELETE` is written back as one conditional write on the record as read
 * (same incarnation and version): a write that lost a race changes nothing, and its writer reads
 * again and decides again. A `DELETE` needs no condition: it adds one to `epoch` and removes every
 * token and place, whatever else the record holds. No clock orders anything here; clocks decide
 * only when a token, a lease, a place or a back-off has ended.
 */

import type {
  Lease,
  LeaseAsk,
  LeaseDecision,
  Place,
  ProfileRecord,
  SetEntry,
  TokenDecision,
  TokenEntry,
  TokenWrite,
} from "./record-types.js";

export { type AskRefusal, mayAsk } from "./attempt-guard.js";
export type {
  Lease,
  LeaseAsk,
  LeaseDecision,
  Place,
  ProfileRecord,
  SetEntry,
  TokenDecision,
  TokenEntry,
  TokenWrite,
} from "./record-types.js";

/** The most live scope sets of one profile: the default set's place and seven others. */
export const MAX_LIVE_SETS = 8;
/** The most of the seven other places one caller (one IAM role) may hold. */
export const MAX_PLACES_PER_CALLER = 3;

/** The record of a profile that has no item. */
export function emptyRecord<T>(): ProfileRecord<T> {
  return { version: 0, epoch: 0, backOffUntil: 0, sets: new Map() };
}

/** The token of `tag` that may be served at `now`: of the record's epoch and not expired. */
export function servableToken<T>(
  record: ProfileRecord<T>,
  tag: string,
  now: number,
): TokenEntry<T> | undefined {
  const token = record.sets.get(tag)?.token;
  return token && token.epoch === record.epoch && now < token.expiresAt ? token : undefined;
}

/**
 * Takes the lease of a set: refused while another owner's lease lasts, while the profile backs
 * off, or when the set needs a place and none is free (the profile's eight, or the caller's
 * three of the seven non-default ones). Taking it also takes the set's place, until the lease ends.
 */
export function takeLease<T>(record: ProfileRecord<T>, ask: LeaseAsk): LeaseDecision<T> {
  const { tag, now } = ask;
  if (record.backOffUntil > now) return { kind: "backing-off", until: record.backOffUntil };
  const entry = record.sets.get(tag) ?? {};
  const lease = entry.lease;
  if (lease && lease.owner !== ask.owner && lease.until > now) {
    return { kind: "held", until: lease.until };
  }
  const placed = (entry.place?.until ?? 0) > now;
  if (!placed && tag !== ask.defaultTag) {
    const full = placeRefusal(record, ask);
    if (full) return full;
  }
  const place = placed && entry.place ? entry.place : { caller: ask.caller, until: ask.until };
  const next = withSet(record, tag, {
    ...entry,
    lease: { owner: ask.owner, until: ask.until },
    place: { ...place, until: Math.max(place.until, ask.until) },
  });
  return { kind: "take", next };
}

// The bound on places, for a set that has none: the default set's place is kept free.
function placeRefusal<T>(record: ProfileRecord<T>, ask: LeaseAsk): LeaseDecision<T> | undefined {
  // A set is live while it holds a place, or a lease someone may still use (a request in flight).
  const live = (e: SetEntry<T>) => Math.max(e.place?.until ?? 0, e.lease?.until ?? 0) > ask.now;
  const others = [...record.sets.entries()].filter(
    ([tag, entry]) => tag !== ask.tag && tag !== ask.defaultTag && live(entry),
  );
  const ends = (entries: typeof others) =>
    Math.min(...entries.map(([, e]) => Math.max(e.place?.until ?? 0, e.lease?.until ?? 0)));
  if (others.length >= MAX_LIVE_SETS - 1) {
    return { kind: "full", bound: "profile", freesAt: ends(others) };
  }
  const mine = others.filter(([, entry]) => entry.place?.caller === ask.caller);
  if (mine.length >= MAX_PLACES_PER_CALLER) {
    return { kind: "full", bound: "caller", freesAt: ends(mine) };
  }
  return undefined;
}

/**
 * Writes a token obtained under `epoch`, releasing the writer's lease in the same write. A
 * `DELETE` since (another epoch), or a new item (another incarnation), refuses it: its writer
 * revokes it and never serves it. A writer whose lease passed on keeps a token that lasts at
 * least as long as its own (`next` then holds the stored token, not the written one).
 */
export function writeToken<T>(record: ProfileRecord<T>, write: TokenWrite<T>): TokenDecision<T> {
  if (record.epoch !== write.epoch || record.incarnation !== write.incarnation) {
    return { kind: "deleted" };
  }
  const entry = record.sets.get(write.tag) ?? {};
  const { lease, ...rest } = entry;
  const kept = lease && lease.owner !== write.owner ? { lease } : {};
  // A writer that lost its lease (frozen past it) never replaces a token that lasts at least as
  // long: one written since by the lease's next holder. Its own token is then not stored.
  const stored = entry.token;
  const late =
    stored?.epoch === record.epoch &&
    lease?.owner !== write.owner &&
    stored.expiresAt >= write.expiresAt;
  const token = late
    ? stored
    : { epoch: write.epoch, expiresAt: write.expiresAt, token: write.token };
  const caller = entry.place?.caller ?? "";
  const place = late && entry.place ? entry.place : { caller, until: write.placeUntil };
  return { kind: "write", next: withSet(record, write.tag, { ...rest, ...kept, token, place }) };
}

/** Gives the lease back, when `owner` still holds it; `undefined`: nothing to write. */
export function releaseLease<T>(
  record: ProfileRecord<T>,
  tag: string,
  owner: string,
): ProfileRecord<T> | undefined {
  const entry = record.sets.get(tag);
  if (entry?.lease?.owner !== owner) return undefined;
  const { lease: _released, ...rest } = entry;
  return withSet(record, tag, rest);
}

/**
 * Records a back-off CyberArk asked for, until `until` (epoch ms); a later end is never
 * shortened. Releases `owner`'s lease of `tag` in the same write. `undefined`: nothing to write.
 */
export function backOff<T>(
  record: ProfileRecord<T>,
  until: number,
  release?: { readonly tag: string; readonly owner: string },
): ProfileRecord<T> | undefined {
  const released = release && releaseLease(record, release.tag, release.owner);
  if (until <= record.backOffUntil) return released;
  return { ...(released ?? record), backOffUntil: until };
}

/**
 * A `DELETE`: the next epoch, and no token and no place of any set. Leases and the back-off stay:
 * a request in flight still holds its set's lease (one request per set at a time), and the
 * tenant's back-off is about the tenant, not the tokens. Written without a condition.
 */
export function deleteTokens<T>(record: ProfileRecord<T>): ProfileRecord<T> {
  const sets = new Map<string, SetEntry<T>>();
  for (const [tag, { lease }] of record.sets) if (lease) sets.set(tag, { lease });
  return { ...record, epoch: record.epoch + 1, sets };
}

/**
 * Drops what has ended by `now` (tokens, leases, places), so the record never grows past the live
 * sets. Applied by every writer before it writes.
 */
export function pruned<T>(record: ProfileRecord<T>, now: number): ProfileRecord<T> {
  const sets = new Map<string, SetEntry<T>>();
  for (const [tag, entry] of record.sets) {
    const kept: { token?: TokenEntry<T>; lease?: Lease; place?: Place } = {};
    if (entry.token && entry.token.expiresAt > now && entry.token.epoch === record.epoch) {
      kept.token = entry.token;
    }
    if (entry.lease && entry.lease.until > now) kept.lease = entry.lease;
    if (entry.place && entry.place.until > now) kept.place = entry.place;
    if (kept.token || kept.lease || kept.place) sets.set(tag, kept);
  }
  return { ...record, sets };
}

/**
 * When the item may vanish (epoch ms): once every token, lease, place and back-off it holds has
 * ended. Nothing then depends on it: a writer that read it is refused by its missing incarnation.
 */
export function expiryOf<T>(record: ProfileRecord<T>): number {
  let latest = record.backOffUntil;
  for (const entry of record.sets.values()) {
    latest = Math.max(
      latest,
      entry.token?.expiresAt ?? 0,
      entry.lease?.until ?? 0,
      entry.place?.until ?? 0,
    );
  }
  return latest;
}

function withSet<T>(record: ProfileRecord<T>, tag: string, entry: SetEntry<T>): ProfileRecord<T> {
  const sets = new Map(record.sets);
  sets.set(tag, entry);
  return { ...record, sets };
}
