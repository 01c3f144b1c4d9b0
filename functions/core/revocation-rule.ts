/**
 * Which tokens a `DELETE` revokes (pure; `docs/protocol.md` section 3): the live ledger entries of
 * the epochs it ended, and those of an older incarnation; never one of the epoch after.
 */
import type { LedgerRead, TokenStamp } from "./ports.js";
import type { CachedToken } from "./token.js";

/** Why a `DELETE` did not revoke a token it knew of. */
export type SkipReason = "expired" | "unopened" | "past-bound" | "newer-epoch" | "failed";

/** What a `DELETE` did at CyberArk, for its audit line. */
export interface Revoked {
  /** `true`: every token of an earlier epoch was revoked; `false`: none; `failed`: see the log. */
  readonly revoked: "true" | "false" | "failed";
  /** SHA-256 prefixes of the tokens revoked or tried, comma-separated; never a token. */
  readonly tokenSha256?: string;
  /** How many tokens were revoked. */
  readonly revokedCount?: number;
  /** Tokens known but not revoked, by reason: `expired=2,newer-epoch=1`. */
  readonly skipped?: string;
}

/**
 * Whether a `DELETE` that found `deleted` (the incarnation, and the epoch before it) revokes a
 * ledger entry at `now`: yes for a live entry of an epoch up to its own, or of another incarnation
 * when no later life had begun when the ledger was read (`deletion.ts` makes sure of it).
 */
export function revocable(
  entry: TokenStamp & { readonly expiresAt: number },
  deleted: TokenStamp,
  now: number,
): true | SkipReason {
  if (entry.expiresAt <= now) return "expired";
  if (entry.incarnation === deleted.incarnation && entry.epoch > deleted.epoch) {
    return "newer-epoch";
  }
  return true;
}

/**
 * What a `DELETE` found (`deletion.ts`): the ledger `read` after its last write (`undefined`: it
 * could not be read), `tokens` revoked whatever they are (dropped, held here), how it `judge`s an
 * entry, and the tokens besides the ledger's it `skipped`.
 */
export interface DeleteFound {
  readonly read: LedgerRead | undefined;
  readonly tokens: readonly CachedToken[];
  readonly judge: (entry: TokenStamp & { readonly expiresAt: number }) => true | SkipReason;
  readonly skipped: readonly SkipReason[];
}

/**
 * The judge of a `DELETE` that wrote the lives `lives` (each its incarnation and the epoch before
 * its write) and saw the lives `newer` begin after its first write; `settled`: the entries of
 * every other incarnation are older (no later life had begun when the ledger was read).
 */
export function judgeOf(
  lives: readonly TokenStamp[],
  newer: ReadonlySet<string>,
  settled: boolean,
  now: number,
) {
  const last = lives[lives.length - 1] as TokenStamp;
  return (entry: TokenStamp & { readonly expiresAt: number }): true | SkipReason => {
    const verdict = revocable(entry, last, now);
    if (verdict === true && newer.has(entry.incarnation)) return "newer-epoch";
    const ours = lives.some((life) => life.incarnation === entry.incarnation);
    return verdict !== true || settled || ours ? verdict : "failed";
  };
}
