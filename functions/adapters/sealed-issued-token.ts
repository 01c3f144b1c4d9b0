/**
 * One entry of a profile's ledger of issued tokens, as the table holds it: the token and all the
 * ledger knows of it (cache key, scope asked and granted, issue time, expiry, the record's
 * `incarnation` and `epoch` its writer read, and until when CyberArk may honour it, counted from
 * the answer's arrival) in one record sealed
 * by the same {@link TokenCipher} as cached tokens, with the item's key and the entry's id as
 * associated data, so an entry copied into another entry or another profile's ledger does not
 * open. Beside it, in plaintext, only the arrival-based expiry: a hint for pruning, which nothing
 * else trusts.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { LedgerEntry, RememberedEntry } from "../core/ports.js";
import { parseScopeSet } from "../core/scope-set.js";
import { parseTokenRecord, tokenRecord } from "./sealed-token-record.js";
import { DoesNotOpenError, type TokenCipher } from "./token-cipher.js";

/** The attributes of an entry (a DynamoDB map). */
export const ENTRY = { sealed: "sealed", expiresAt: "expiresAt" } as const;

// A new record layout gets a new label: a record of another layout then simply does not open.
const RECORD_LABEL = "issued-token/2";

/** An entry's attribute value (a map) holding `entry`, sealed as the entry `id`. */
export async function sealIssuedEntry(
  cipher: TokenCipher,
  itemKey: string,
  id: string,
  entry: LedgerEntry,
): Promise<AttributeValue> {
  const { token, asked, incarnation, epoch, expiresAt } = entry;
  const record = { ...tokenRecord(token), asked, incarnation, epoch, liveUntil: expiresAt };
  const sealed = await cipher.seal(JSON.stringify(record), context(itemKey, id));
  return {
    M: {
      [ENTRY.sealed]: { S: sealed },
      [ENTRY.expiresAt]: { N: String(expiresAt) },
    },
  };
}

/**
 * Opens the entry `id` of the ledger item `itemKey`.
 * @throws {DoesNotOpenError} when it was not sealed by this service for exactly that entry, or is
 *   malformed; any other error when the key service failed (it may open on another try).
 */
export async function openIssuedEntry(
  cipher: TokenCipher,
  itemKey: string,
  id: string,
  entry: AttributeValue,
): Promise<RememberedEntry> {
  const sealed = entry.M?.[ENTRY.sealed]?.S;
  if (sealed === undefined) throw new DoesNotOpenError("not a ledger entry");
  const record = parseRecord(await cipher.open(sealed, context(itemKey, id)));
  if (!record) throw new DoesNotOpenError("not a ledger record");
  return { id, ...record };
}

/** The plaintext expiry hint of an entry (epoch ms); `undefined` when it has none. */
export function entryExpiryHint(entry: AttributeValue): number | undefined {
  const value = Number(entry.M?.[ENTRY.expiresAt]?.N ?? Number.NaN);
  return Number.isSafeInteger(value) ? value : undefined;
}

function context(itemKey: string, id: string): string {
  return `${RECORD_LABEL}\n${itemKey}\n${id}`;
}

// Only a record we sealed reaches here, so a failure means a bug or another layout, not an attack.
function parseRecord(plaintext: string): Omit<RememberedEntry, "id"> | undefined {
  const parsed = parseTokenRecord(plaintext);
  const { asked, incarnation, epoch, liveUntil } = parsed?.record ?? {};
  const askedSet = typeof asked === "string" ? parseScopeSet(asked) : undefined;
  if (
    !parsed ||
    typeof askedSet !== "string" ||
    typeof incarnation !== "string" ||
    !Number.isSafeInteger(epoch) ||
    !Number.isSafeInteger(liveUntil)
  ) {
    return undefined;
  }
  return {
    asked: askedSet,
    token: parsed.token,
    incarnation,
    epoch: epoch as number,
    expiresAt: liveUntil as number,
  };
}
