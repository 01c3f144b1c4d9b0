/**
 * A cached token as a profile's item holds it: one sealed record per scope set.
 *
 * Everything the function relies on (token, cache key, issue time, expiry, scope, and the stamp of
 * the record it was written in: `epoch`, `incarnation` and the set's tag) is one JSON record sealed
 * by a {@link TokenCipher}, with the item's key and the set's tag as associated data, so a sealed
 * token copied to another set or another profile does not open. Beside it the item keeps plaintext
 * hints (`epoch`, `expiresAt`) for the pure rule and the TTL; a read trusts none of them: it opens
 * the record and requires every hint to agree with it (see `profile-item-tokens.ts`).
 */
import type { CachedToken } from "../core/token.js";
import type { TokenCipher } from "./token-cipher.js";

// A new record layout gets a new label: a record of another layout then simply does not open.
const RECORD_LABEL = "profile-token/1";

/** What a sealed token record holds besides the token: which record and set it belongs to. */
export interface TokenSeal {
  readonly epoch: number;
  readonly incarnation: string;
  readonly tag: string;
}

/** A sealed token, opened. */
export interface OpenedToken extends TokenSeal {
  readonly token: CachedToken;
}

/** Seals `token` for the set tagged `seal.tag` of the item `itemKey`. */
export function sealToken(
  cipher: TokenCipher,
  itemKey: string,
  token: CachedToken,
  seal: TokenSeal,
): Promise<string> {
  const record = { ...tokenRecord(token), ...seal };
  return cipher.seal(JSON.stringify(record), sealingContext(itemKey, seal.tag));
}

/**
 * Opens a token sealed for the set `tag` of the item `itemKey`.
 * @returns `undefined` when the plaintext is not a token record of this layout.
 * @throws {DoesNotOpenError} when it was sealed for another item or set, or edited; any other
 *   error when the key service failed.
 */
export async function openToken(
  cipher: TokenCipher,
  itemKey: string,
  tag: string,
  sealed: string,
): Promise<OpenedToken | undefined> {
  const parsed = parseTokenRecord(await cipher.open(sealed, sealingContext(itemKey, tag)));
  if (!parsed) return undefined;
  const { epoch, incarnation, tag: sealedTag } = parsed.record;
  if (
    !Number.isSafeInteger(epoch) ||
    typeof incarnation !== "string" ||
    typeof sealedTag !== "string"
  ) {
    return undefined;
  }
  return { token: parsed.token, epoch: epoch as number, incarnation, tag: sealedTag };
}

function sealingContext(itemKey: string, tag: string): string {
  return `${RECORD_LABEL}\n${itemKey}\n${tag}`;
}

/** A token's fields as every sealed record holds them (cached tokens and ledger entries alike). */
export function tokenRecord(token: CachedToken): Record<string, string | number> {
  return {
    cacheKey: token.cacheKey,
    accessToken: token.accessToken,
    ...(token.scope === undefined ? {} : { scope: token.scope }),
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
  };
}

/**
 * A sealed record's plaintext: the token it holds, and the whole record for the fields a record
 * adds beside it. Only a record we sealed reaches here, so `undefined` means a bug or another
 * layout, not an attack.
 */
export function parseTokenRecord(
  plaintext: string,
): { token: CachedToken; record: Record<string, unknown> } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { cacheKey, accessToken, scope, issuedAt, expiresAt } = record;
  if (
    typeof cacheKey !== "string" ||
    typeof accessToken !== "string" ||
    accessToken === "" ||
    (scope !== undefined && typeof scope !== "string") ||
    !Number.isSafeInteger(issuedAt) ||
    !Number.isSafeInteger(expiresAt)
  ) {
    return undefined;
  }
  const token: CachedToken = {
    cacheKey,
    accessToken,
    ...(scope === undefined ? {} : { scope }),
    issuedAt: issuedAt as number,
    expiresAt: expiresAt as number,
  };
  return { token, record };
}
