/**
 * The token table's admission rule, stated once: whether a token's write may replace what the
 * table holds for its profile. The DynamoDB adapter writes it as a condition expression (held to
 * this function by a property test on moto), and the test fake calls it directly.
 *
 * The rule judges what a conditional write can see: the item's plaintext attributes, which anyone
 * with write access to the table could have edited. A forged item must never block the next write
 * for good, so the rule also admits a write over a record this code cannot have written.
 */
/** The stored item as a conditional write sees it. */
export type StoredView =
  /** No item at all. */
  | { readonly kind: "none" }
  /**
   * A token item: a string record, with the plaintext hints beside it (`undefined` when the hint
   * is missing or of another type). `lastRefused`: the record is exactly the one the writing
   * instance last read and could not open (forged, or of another key).
   */
  | {
      readonly kind: "token";
      readonly cacheKey: string | undefined;
      readonly issuedAt: number | undefined;
      readonly lastRefused: boolean;
    }
  /** A record attribute that is not a string: not this code's, so not ours to keep. */
  | { readonly kind: "foreign" }
  /** A `DELETE`'s record: a time and no token record (`undefined`: the time is not a number). */
  | { readonly kind: "deletion"; readonly deletedAt: number | undefined };

/** The token being written: only what the rule compares. */
export interface Candidate {
  /** The identity that obtained the token (see `cacheKey` in `token.ts`). */
  readonly cacheKey: string;
  /** When the request that obtained it was sent (epoch ms). */
  readonly issuedAt: number;
}

/** What a token's write is weighed against, besides the stored item. */
export interface WriteBasis {
  /**
   * When the credentials the token was obtained with were last read from the secret (epoch ms).
   * Credentials read before a `DELETE` may be of the identity it was meant to drop.
   */
  readonly credentialsReadAt: number;
  /**
   * The `DELETE` record the refresh read, as it read it (see `deletion-record.ts`): the write may
   * replace exactly that record, whatever its time. Any other record refuses it.
   */
  readonly deletionRead?: number;
  /**
   * The profile's own `DELETE` record the refresh read (the profile item's, which every scope set
   * shares; `ports.ts`), as it read it. The token is sealed with it, and served only while the
   * profile's record is still that one: a `DELETE` made after the read leaves it unservable, in
   * whichever set it lands.
   */
  readonly profileDeletionRead?: number;
}

/**
 * Whether `candidate` may replace `stored`. It may, unless
 * - the item records a `DELETE` other than `basis.deletionRead`, whatever its time: the refresh
 *   did not see it, so the token may be of the identity that `DELETE` was meant to drop (and no
 *   writer's clock can tell a genuine time from an edit: the writer may have been frozen);
 * - the stored token is of the same identity and was issued at the same time or later, so a slow
 *   or thawed writer never replaces a fresher token (ordered by issue time, not expiry: when a
 *   tenant shortens lifetimes, the newer, shorter token must win);
 * - the stored token is of another identity and was issued at or after
 *   `basis.credentialsReadAt`: whoever wrote it read their credentials later than ours;
 * and in the last two cases the record is not the one this instance last refused.
 */
export function admits(stored: StoredView, candidate: Candidate, basis: WriteBasis): boolean {
  switch (stored.kind) {
    case "none":
    case "foreign":
      return true;
    case "deletion":
      return deletionAdmits(stored.deletedAt, basis);
    case "token":
      return stored.lastRefused || supersedes(stored, candidate, basis);
  }
}

/** The ordering rule on the stored token's hints. */
export function supersedes(
  stored: { readonly cacheKey: string | undefined; readonly issuedAt: number | undefined },
  candidate: Candidate,
  basis: WriteBasis,
): boolean {
  if (stored.cacheKey === undefined || stored.issuedAt === undefined) return false;
  return stored.cacheKey === candidate.cacheKey
    ? stored.issuedAt < candidate.issuedAt
    : stored.issuedAt < basis.credentialsReadAt;
}

/**
 * A `DELETE`'s record admits only the write of the refresh that read that very record (and then
 * read its credentials again), or any write over a record whose time is not a number (forged).
 */
export function deletionAdmits(deletedAt: number | undefined, basis: WriteBasis): boolean {
  return deletedAt === undefined || deletedAt === basis.deletionRead;
}

/**
 * Whether a set's stored token may be served, given the profile's `DELETE` record it was sealed
 * under (`stamp`, the writer's `profileDeletionRead`) and the profile's record now: only while they
 * are the same. A `DELETE` replaces the record, so one write drops every set's token, including a
 * set no instance knew of, and a write by work that read the record before it lands unservable.
 * (A record that is not a number is an edit, and counts as none.)
 */
export function servableUnder(
  stamp: number | undefined,
  profileDeletedAt: number | undefined,
): boolean {
  return stamp === profileDeletedAt;
}

/**
 * The record a `DELETE` made at `at` writes over the profile's `stored` one (`undefined`: none, or
 * not a safe integer, so not this code's): `at`, unless the stored record is not earlier, then the
 * next millisecond after it. So every `DELETE`'s record is later than, and distinct from, every
 * record before it, whatever the clocks say: two `DELETE`s in the same millisecond, or one on a
 * clock behind another's, never record the same value, and the comparisons above (`===`) tell
 * every `DELETE` apart. Each set's item gets the same record as the profile's.
 */
export function nextDeletionRecord(stored: number | undefined, at: number): number {
  if (stored === undefined || stored < at) return at;
  // A record no genuine DELETE can reach (the year 287,396) is an edit: replaced by `at`.
  return stored < Number.MAX_SAFE_INTEGER ? stored + 1 : at;
}
