/**
 * A profile's item in the token table, read and edited raw by integration tests (as a table writer
 * without the service's code would), and the token a store would serve from it.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDbProfileStore } from "../../functions/adapters/dynamodb-profile-store.js";
import { profileItemKey } from "../../functions/adapters/token-table.js";
import { servableToken } from "../../functions/core/profile-record.js";
import { NO_SCOPES, type ScopeSet, setTag } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { dynamodb } from "./aws.js";

type Item = Record<string, AttributeValue>;

/** The profile's item as stored; `undefined` when there is none. */
export async function profileItem(
  tableName: string,
  profile: string,
  client: DynamoDBClient = dynamodb,
): Promise<Item | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: profileItemKey(profile) } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** Writes `item` as is, with no condition (an edit). */
export async function putRaw(
  tableName: string,
  item: Item,
  client: DynamoDBClient = dynamodb,
): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
}

/** The item's entry for `set` in the map attribute `name` (`tokens`, `leases`, `places`). */
export function entryOf(
  item: Item | undefined,
  name: "tokens" | "leases" | "places",
  set: ScopeSet = NO_SCOPES,
): Record<string, AttributeValue> | undefined {
  return item?.[name]?.M?.[setTag(set)]?.M;
}

/** `item` with `entry` as its `name` entry of `set`. */
export function withEntry(
  item: Item,
  name: "tokens" | "leases" | "places",
  entry: AttributeValue,
  set: ScopeSet = NO_SCOPES,
): Item {
  return { ...item, [name]: { M: { ...item[name]?.M, [setTag(set)]: entry } } };
}

/** Puts a lease of `set` held by `owner` until `until` into the profile's item (which must exist). */
export async function putLease(
  tableName: string,
  profile: string,
  owner: string,
  until: number,
  set: ScopeSet = NO_SCOPES,
): Promise<void> {
  const item = await profileItem(tableName, profile);
  if (!item) throw new Error(`no item for ${profile}`);
  const lease = { M: { owner: { S: owner }, until: { N: String(until) } } };
  await putRaw(tableName, withEntry(item, "leases", lease, set));
}

/** Sets the profile's back-off end (0: none), when it has an item. */
export async function setBackOff(tableName: string, profile: string, until: number): Promise<void> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: profileItemKey(profile) } },
        UpdateExpression: "SET backOffUntil = :until",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":until": { N: String(until) } },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/** The token of `set` the store would serve at `now`, opened. */
export async function storedToken(
  store: DynamoDbProfileStore,
  profile: string,
  set: ScopeSet = NO_SCOPES,
  now = Date.now(),
): Promise<CachedToken | undefined> {
  const entry = servableToken((await store.read(profile)).record, setTag(set), now);
  return entry?.token.open();
}
