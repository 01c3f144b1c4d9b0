/**
 * A token CyberArk answers while a `DELETE` of its profile runs. The `DELETE` revokes what the
 * table and the ledger hold when it reads them, and it may read the ledger before the token is
 * remembered: served, such a token would outlive the `DELETE` that was meant to kill every live
 * one. So a token whose work learns, when it finishes, that a `DELETE` came while it was under way
 * is never served: it is revoked at once, as a `DELETE` revokes (retried once, logged by its
 * SHA-256 prefix, never the token), and stays in the ledger, so a revocation that fails is tried
 * again by the next `DELETE`. (A platform token cannot be revoked; it is not served either.)
 *
 * The work learns it from its slot (replaced: a `DELETE` on this instance) and from its write (the
 * table refused it because of a `DELETE` record it did not read: a `DELETE` on any instance; the
 * store tells that refusal apart at no extra call). Where the write cannot tell, the table is
 * read once more and a `DELETE` recorded on the profile's item since the work's read counts the
 * same: a write refused because the item holds a token (a fresher one of the same identity, or
 * one written after a `DELETE` this work did not see), and a set whose place only this instance
 * could count, which a `DELETE` elsewhere may not have known of. That read is made only when the
 * lease leaves room for it; otherwise, or when the table cannot be read, the token is served as
 * before. A write the table failed tells nothing either way: its token is served, and if the
 * ledger failed with it, no `DELETE` can revoke it (the README says so).
 *
 * Every wait here (the extra read, the revocation) is begun only while the lease leaves room for
 * its worst and a margin, so the work still ends within the worst refresh the budget counts.
 *
 * What the caller gets is what a request that raced the `DELETE` gets: `503
 * upstream_unavailable` with a short `Retry-After` (after the vendor's usual fallback, which
 * serves a token obtained after the `DELETE` if the table already holds one). The refresh is not
 * run again here: a second exchange does not fit the request's timing budget (`timing.ts`), and a
 * caller told to retry in a second reads the credentials after the `DELETE` anyway.
 */
import { recordedProfileDeletion } from "./deletion-record.js";
import { UpstreamUnavailableError } from "./errors.js";
import type { Logger } from "./ports.js";
import type { Profile } from "./profiles.js";
import type { LeaseHold } from "./refresh-lease.js";
import type { TokenRevocation } from "./revocation.js";
import type { ScopeSet } from "./scope-set.js";
import type { TableCache, TableRead } from "./table-cache.js";
import { MARGIN_MS, WORST_REVOCATION_MS, WORST_TABLE_CALL_MS } from "./timing.js";
import { type CachedToken, tokenFingerprint } from "./token.js";

/** How soon a caller whose token raced a `DELETE` should ask again (s). */
export const RACED_DELETE_RETRY_AFTER_SECONDS = 1;

/** What refusing a raced token needs. */
export interface RaceParts {
  readonly revocation: TokenRevocation;
  readonly logger: Logger;
}

/**
 * Revokes `token`, obtained while a `DELETE` of `profile` ran, and refuses it to its caller. The
 * revocation is waited for while the lease leaves room for its worst (and a margin), so the
 * request still ends inside its budget; otherwise it goes on without the caller.
 * @throws {UpstreamUnavailableError} always: the token is not served.
 */
export async function refuseRaced(
  parts: RaceParts,
  profile: Profile,
  token: CachedToken,
  hold: LeaseHold,
): Promise<never> {
  // Platform tokens cannot be revoked (no endpoint is documented): not served is all there is.
  const message = parts.revocation.revocable(profile)
    ? "token obtained while a DELETE of the profile ran; revoked, not served"
    : "token obtained while a DELETE of the profile ran; not served (the profile's tokens cannot be revoked)";
  const tokenSha256 = tokenFingerprint(token.accessToken);
  parts.logger.warn(message, { profile: profile.name, tokenSha256 });
  const revoking = parts.revocation.revokeRaced(profile, token);
  if (leaves(hold, WORST_REVOCATION_MS + MARGIN_MS)) await revoking;
  throw new UpstreamUnavailableError({
    dependency: "identity",
    kind: "unusable",
    detail: "the token obtained while a DELETE of the profile ran is not served",
    retryAfterSeconds: RACED_DELETE_RETRY_AFTER_SECONDS,
  });
}

/**
 * Whether the profile's item records another `DELETE` than `read` did, going by one more read of
 * the set's item (only while the lease leaves room for it). False when it cannot tell.
 */
export async function deletedSince(
  table: TableCache,
  profile: Profile,
  set: ScopeSet,
  read: TableRead,
  hold: LeaseHold,
): Promise<boolean> {
  if (!leaves(hold, WORST_TABLE_CALL_MS + MARGIN_MS)) return false;
  const now = await table.read(profile.name, set);
  if (now.status === "unavailable") return false;
  return recordedProfileDeletion(now) !== recordedProfileDeletion(read);
}

function leaves(hold: LeaseHold, ms: number): boolean {
  try {
    hold.ensureLeft(ms);
    return true;
  } catch {
    return false;
  }
}
