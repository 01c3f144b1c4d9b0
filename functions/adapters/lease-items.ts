/**
 * The token table's lease items (one per scope set of a profile) and back-off items (one per
 * profile: a back-off the tenant asks for holds for every set), written with conditions that let
 * a genuine holder keep them and an edit never stop a profile.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { ScopeSet } from "../core/scope-set.js";
import { MAX_BACK_OFF_MS, MAX_CLOCK_SKEW_MS } from "../core/timing.js";
import { backOffItemKey, leaseItemKey, TOKEN_TABLE_SCHEMA } from "./token-table.js";

const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;

/** The table the items live in. */
export interface ItemTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/** Takes the set's lease (`TokenStore.acquireLease`). */
export function acquireLease(
  table: ItemTable,
  key: { readonly profile: string; readonly set: ScopeSet },
  owner: string,
  now: number,
  until: number,
): Promise<boolean> {
  return ignoringConditionFailure(
    table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          [partitionKey]: { S: leaseItemKey(key.profile, key.set) },
          owner: { S: owner },
          leaseUntil: { N: String(until) },
          [timeToLiveAttribute]: { N: String(leftoverTtl(until)) },
        },
        // Free, expired, or not a lease this code could have written: a `leaseUntil` that is
        // not a number, or later than any lease taken now could last (on any instance's clock),
        // was put there by someone editing the table, and must not stop every refresh of the
        // set. Without the skew, a lease just taken on a clock a little ahead looked forged.
        ConditionExpression:
          "attribute_not_exists(#pk) OR NOT attribute_type(#leaseUntil, :number) OR #leaseUntil < :now OR #leaseUntil > :forgedAfter",
        ExpressionAttributeNames: { "#pk": partitionKey, "#leaseUntil": "leaseUntil" },
        ExpressionAttributeValues: {
          ":now": { N: String(now) },
          ":forgedAfter": { N: String(until + MAX_CLOCK_SKEW_MS) },
          ":number": { S: "N" },
        },
      }),
    ),
  );
}

/** Gives the set's lease back if `owner` still holds it. */
export async function releaseLease(
  table: ItemTable,
  key: { readonly profile: string; readonly set: ScopeSet },
  owner: string,
): Promise<void> {
  await ignoringConditionFailure(
    table.client.send(
      new DeleteItemCommand({
        TableName: table.tableName,
        Key: { [partitionKey]: { S: leaseItemKey(key.profile, key.set) } },
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": { S: owner } },
      }),
    ),
  );
}

/** Records the profile's back-off (`TokenStore.putBackOff`). */
export async function putBackOff(table: ItemTable, profile: string, until: number): Promise<void> {
  await ignoringConditionFailure(
    table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          [partitionKey]: { S: backOffItemKey(profile) },
          backOffUntil: { N: String(until) },
          [timeToLiveAttribute]: { N: String(leftoverTtl(until)) },
        },
        // A later end stays (a slower writer never shortens a back-off), unless no genuine one
        // can have it: an edit readers ignore must not keep the real back-off out either.
        ConditionExpression:
          "attribute_not_exists(#pk) OR NOT attribute_type(#until, :number) OR #until < :until OR #until > :forgedAfter",
        ExpressionAttributeNames: { "#pk": partitionKey, "#until": "backOffUntil" },
        ExpressionAttributeValues: {
          ":until": { N: String(until) },
          ":forgedAfter": { N: String(until + MAX_BACK_OFF_MS + MAX_CLOCK_SKEW_MS) },
          ":number": { S: "N" },
        },
      }),
    ),
  );
}

/** The end of the profile's recorded back-off (epoch ms), if any. */
export async function getBackOff(table: ItemTable, profile: string): Promise<number | undefined> {
  const output = await table.client.send(
    new GetItemCommand({
      TableName: table.tableName,
      Key: { [partitionKey]: { S: backOffItemKey(profile) } },
      ConsistentRead: true,
    }),
  );
  return numberOf(output.Item?.backOffUntil);
}

/** A failed condition means another writer got there first with something at least as good. */
export async function ignoringConditionFailure(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

// A lease or back-off item nobody removes (a crashed owner's) is cleaned up by TTL an hour after
// it ends (epoch s); a lease's own expiry, not the TTL, is what frees it.
function leftoverTtl(until: number): number {
  return Math.ceil(until / 1000) + 3600;
}

/** A number attribute's value, when it is a safe integer. */
export function numberOf(value: AttributeValue | undefined): number | undefined {
  const parsed = value?.N === undefined ? Number.NaN : Number(value.N);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
