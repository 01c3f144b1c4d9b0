/**
 * The writes of the ledger of issued tokens (see `dynamodb-issued-tokens.ts`), as plain
 * `UpdateItem` inputs: each names only the map keys it adds or removes, so concurrent writers
 * never overwrite each other's entries, and each states in its condition the rule it keeps.
 */
import type { AttributeValue, UpdateItemCommandInput } from "@aws-sdk/client-dynamodb";
import { MAX_LIFETIME_SECONDS } from "../core/token.js";
import { TOKEN_TABLE_SCHEMA } from "./token-table.js";

/** The most entries a profile's ledger holds: live tokens, and expired ones not yet pruned. */
export const ISSUED_TOKENS_KEPT = 50;

/** The map attribute of a ledger item: entry id -> sealed entry. */
export const TOKENS = "tokens";

/** The partition key of a profile's ledger item. */
export function issuedItemKey(profile: string): string {
  return `issued#${profile}`;
}

const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;
const MAP_TYPE = { S: "M" };

/**
 * The item's TTL after a write at `now` of an entry that lives until `expiresAt` (epoch s): a
 * token's longest lifetime past the later of the two, so DynamoDB never deletes a ledger that
 * holds a live entry, whoever wrote it and whatever its clock said (a clock a whole lifetime off
 * is not one this service runs on).
 */
export function ledgerTtl(now: number, expiresAt: number): AttributeValue {
  return { N: String(Math.ceil((Math.max(now, expiresAt) + MAX_LIFETIME_SECONDS * 1000) / 1000)) };
}

/**
 * Adds the entry `id` and removes `pruned` (expired), if the ledger exists and has room once they
 * are gone. A pruned entry makes room only while it is still there, so the bound holds exactly
 * even when another instance pruned it first (the condition then fails, and the failure shows the
 * item as it is).
 */
export function addEntry(
  tableName: string,
  key: string,
  added: { readonly id: string; readonly entry: AttributeValue; readonly ttl: AttributeValue },
  pruned: readonly string[],
): UpdateItemCommandInput {
  const paths = pruned.map((_, i) => `#t.#x${i}`);
  const stillThere = paths.map((path) => `attribute_exists(${path})`).join(" AND ");
  const room = pruned.length === 0 ? "" : ` OR (size(#t) < :keptAfterPruning AND ${stillThere})`;
  const removal = pruned.length === 0 ? "" : ` REMOVE ${paths.join(", ")}`;
  return {
    TableName: tableName,
    Key: { [partitionKey]: { S: key } },
    UpdateExpression: `SET #t.#new = :entry, #ttl = :ttl${removal}`,
    ConditionExpression: `attribute_type(#t, :map) AND (size(#t) < :kept${room})`,
    ExpressionAttributeNames: {
      "#t": TOKENS,
      "#new": added.id,
      "#ttl": timeToLiveAttribute,
      ...Object.fromEntries(pruned.map((id, i) => [`#x${i}`, id])),
    },
    ExpressionAttributeValues: {
      ":entry": added.entry,
      ":ttl": added.ttl,
      ":map": MAP_TYPE,
      ":kept": { N: String(ISSUED_TOKENS_KEPT) },
      ...(pruned.length === 0
        ? {}
        : { ":keptAfterPruning": { N: String(ISSUED_TOKENS_KEPT + pruned.length) } }),
    },
    ReturnValues: "ALL_NEW",
    ReturnValuesOnConditionCheckFailure: "ALL_OLD",
  };
}

/**
 * Starts the ledger with one entry, unless another writer started it meanwhile. A `tokens`
 * attribute that is not a map was not written by this code, and is replaced.
 */
export function startLedger(
  tableName: string,
  key: string,
  added: { readonly id: string; readonly entry: AttributeValue; readonly ttl: AttributeValue },
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [partitionKey]: { S: key } },
    UpdateExpression: "SET #t = :tokens, #ttl = :ttl",
    ConditionExpression: "attribute_not_exists(#t) OR NOT attribute_type(#t, :map)",
    ExpressionAttributeNames: { "#t": TOKENS, "#ttl": timeToLiveAttribute },
    ExpressionAttributeValues: {
      ":tokens": { M: { [added.id]: added.entry } },
      ":ttl": added.ttl,
      ":map": MAP_TYPE,
    },
  };
}

/** Removes the entries `ids`; never creates an item (a ledger that is gone has nothing to forget). */
export function removeEntries(
  tableName: string,
  key: string,
  ids: readonly string[],
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [partitionKey]: { S: key } },
    UpdateExpression: `REMOVE ${ids.map((_, i) => `#t.#x${i}`).join(", ")}`,
    ConditionExpression: "attribute_type(#t, :map)",
    ExpressionAttributeNames: {
      "#t": TOKENS,
      ...Object.fromEntries(ids.map((id, i) => [`#x${i}`, id])),
    },
    ExpressionAttributeValues: { ":map": MAP_TYPE },
  };
}
