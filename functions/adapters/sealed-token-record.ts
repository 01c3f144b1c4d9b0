/**
 * A cached token as the table holds it: one sealed record, plus plaintext hints.
 *
 * Everything the function relies on (token, cache key, issue time, expiry, scope, and the
 * profile's `DELETE` record it was written under, its stamp) is one JSON record sealed by a {@link TokenCipher}, with the item's key as associated data. The plaintext
 * attributes are hints only, for DynamoDB (the TTL) and for the conditional write (which must
 * compare without the key). A read trusts none of them: it opens the record and requires every
 * hint to agree with it, so an item edited by anyone without the KMS key is refused as a whole.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { CachedToken } from "../core/token.js";
import type { TokenCipher } from "./token-cipher.js";
import { TOKEN_TABLE_SCHEMA } from "./token-table.js";

/** The attribute holding the sealed record. */
export const SEALED_RECORD = "sealedRecord";

/** The plaintext hints written beside the record; each must equal the record's own value. */
export const HINTS = {
  cacheKey: "cacheKey",
  issuedAt: "issuedAt",
  expiresAt: "expiresAt",
} as const;

const { timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;
// A new record layout gets a new label: a record of another layout then simply does not open.
const RECORD_LABEL = "token-record/1";

/** Why an item could not be used; the store logs it and treats the item as a miss. */
export type RefusedItem =
  | { readonly reason: "malformed" }
  | { readonly reason: "undecryptable"; readonly cause: unknown }
  | { readonly reason: "hints edited" };

/** The attributes of a token item (the partition key excepted). */
export async function sealTokenItem(
  cipher: TokenCipher,
  itemKey: string,
  token: CachedToken,
  stamp?: number,
): Promise<Record<string, AttributeValue>> {
  const record = { ...tokenRecord(token), ...(stamp === undefined ? {} : { stamp }) };
  return {
    [SEALED_RECORD]: { S: await cipher.seal(JSON.stringify(record), sealingContext(itemKey)) },
    [HINTS.cacheKey]: { S: token.cacheKey },
    [HINTS.issuedAt]: { N: String(token.issuedAt) },
    [HINTS.expiresAt]: { N: String(token.expiresAt) },
    // Rounded down: DynamoDB may keep the item longer, but never because we said so.
    [timeToLiveAttribute]: { N: String(ttlOf(token)) },
  };
}

/**
 * Opens a token item, or says why it cannot be used. `stamp`: the profile's `DELETE` record the
 * token was written under (absent: none).
 */
export async function openTokenItem(
  cipher: TokenCipher,
  itemKey: string,
  item: Record<string, AttributeValue>,
): Promise<{ token: CachedToken; stamp?: number } | RefusedItem> {
  const sealed = item[SEALED_RECORD]?.S;
  if (sealed === undefined) return { reason: "malformed" };
  let plaintext: string;
  try {
    plaintext = await cipher.open(sealed, sealingContext(itemKey));
  } catch (cause) {
    return { reason: "undecryptable", cause };
  }
  const parsed = parseTokenRecord(plaintext);
  if (!parsed) return { reason: "malformed" };
  const { token, record } = parsed;
  if (!hintsAgree(item, token)) return { reason: "hints edited" };
  return Number.isSafeInteger(record.stamp) ? { token, stamp: record.stamp as number } : { token };
}

function sealingContext(itemKey: string): string {
  return `${RECORD_LABEL}\n${itemKey}`;
}

function ttlOf(token: CachedToken): number {
  return Math.floor(token.expiresAt / 1000);
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

// Any disagreement means someone edited the item: its record may be genuine, but the hints the
// conditional write relies on are not, so the whole item is refused (and may be overwritten).
function hintsAgree(item: Record<string, AttributeValue>, token: CachedToken): boolean {
  return (
    item[HINTS.cacheKey]?.S === token.cacheKey &&
    item[HINTS.issuedAt]?.N === String(token.issuedAt) &&
    item[HINTS.expiresAt]?.N === String(token.expiresAt) &&
    item[timeToLiveAttribute]?.N === String(ttlOf(token))
  );
}
