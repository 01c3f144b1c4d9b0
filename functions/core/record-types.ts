/**
 * The types of a profile's shared record and its transitions (`profile-record.ts`, which
 * re-exports them with the pure functions that apply them).
 */

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
