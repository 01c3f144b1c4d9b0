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

/** The most live scope sets of one profile: the default set's place and seven others. */
export const MAX_LIVE_SETS = 8;
/** The most of the seven other places one caller (one IAM role) may hold. */
export const MAX_PLACES_PER_CALLER = 3;

/** A token as the record holds it; `T` is the store's form of the token itself (sealed, opened). */
export interface TokenEntry<T> {
  /** The `epoch` its writer read: a token of another epoch is never served. */
  readonly epoch: number;
  /** When the token expires (epoch ms). */
  readonly expiresAt: number;
  readonly token: T;
}

/** The refresh lease of one scope set: only its owner asks CyberArk for the set's token. */
export interface Lease {
  /** The holding piece of work (instance and attempt). */
  readonly owner: string;
  /** When the lease ends (epoch ms). */
  readonly until: number;
}

/** A set's place among the profile's live sets. */
export interface Place {
  /** Who took it: a digest of the caller's role, for the per-caller bound. */
  readonly caller: string;
  /** Until when the place is held (epoch ms). */
  readonly until: number;
}

/** What the record holds for one scope set. */
export interface SetEntry<T> {
  readonly token?: TokenEntry<T>;
  readonly lease?: Lease;
  readonly place?: Place;
}

/** The whole record of a profile. */
export interface ProfileRecord<T> {
  /** Which life of the item this is; absent: there is no item. A new item gets a new one. */
  readonly incarnation?: string;
  /** Counts the record's writes; every conditional write requires the one it read. */
  readonly version: number;
  /** Counts the profile's `DELETE`s (in this incarnation). */
  readonly epoch: number;
  /** Until when CyberArk asked for no token request of the profile (epoch ms); 0: none. */
  readonly backOffUntil: number;
  /** Per scope set, by its tag (the set's digest). */
  readonly sets: ReadonlyMap<string, SetEntry<T>>;
}

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

/** An ask for a set's lease (and its place, when it holds none). */
export interface LeaseAsk {
  readonly tag: string;
  /** The tag of the profile's default set, whose place is always kept free. */
  readonly defaultTag: string;
  readonly owner: string;
  readonly caller: string;
  readonly now: number;
  /** When the lease would end (epoch ms). */
  readonly until: number;
}

/** The answer to a {@link LeaseAsk}. */
export type LeaseDecision<T> =
  | { readonly kind: "take"; readonly next: ProfileRecord<T> }
  | { readonly kind: "held"; readonly until: number }
  | { readonly kind: "backing-off"; readonly until: number }
  | { readonly kind: "full"; readonly bound: "profile" | "caller"; readonly freesAt: number };

/** Whether a set counts as live at `now`: it holds a place, or a lease someone may still use. */
function isLive<T>(entry: SetEntry<T>, now: number): boolean {
  return (entry.place?.until ?? 0) > now || (entry.lease?.until ?? 0) > now;
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
  const others = [...record.sets.entries()].filter(
    ([tag, entry]) => tag !== ask.tag && tag !== ask.defaultTag && isLive(entry, ask.now),
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

/** A token obtained under the lease, to be written. */
export interface TokenWrite<T> {
  readonly tag: string;
  readonly owner: string;
  /** The `incarnation` and `epoch` read before the credentials were used. */
  readonly incarnation: string | undefined;
  readonly epoch: number;
  readonly token: T;
  readonly expiresAt: number;
  /** Until when the set keeps its place: the token's expiry, capped by the caller. */
  readonly placeUntil: number;
}

/** The answer to a {@link TokenWrite}: written (and the lease released), or refused by a `DELETE`. */
export type TokenDecision<T> =
  | { readonly kind: "write"; readonly next: ProfileRecord<T> }
  | { readonly kind: "deleted" };

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

/** Why a request to CyberArk must not be sent now ({@link mayAsk}). */
export type AskRefusal = "lease-lost" | "backing-off" | "deleted";

/**
 * The check before EVERY attempt at CyberArk (retries included): `owner` still holds the set's
 * lease for at least `needMs` more, no back-off lasts, and the record is still the life
 * (incarnation, epoch) the work's credentials were read under. `undefined`: it may send.
 */
export function mayAsk<T>(
  record: ProfileRecord<T>,
  ask: {
    tag: string;
    owner: string;
    incarnation?: string;
    epoch: number;
    now: number;
    needMs: number;
  },
): AskRefusal | undefined {
  if (record.backOffUntil > ask.now) return "backing-off";
  if (record.incarnation !== ask.incarnation || record.epoch !== ask.epoch) return "deleted";
  const lease = record.sets.get(ask.tag)?.lease;
  return lease?.owner === ask.owner && lease.until > ask.now + ask.needMs
    ? undefined
    : "lease-lost";
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
