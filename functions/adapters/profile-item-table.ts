/**
 * The table calls on a profile's item that the store and its `DELETE` share: one consistent read,
 * one conditional put, and how a failure of the table is reported.
 */
import { randomBytes } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describeUnknown, UpstreamUnavailableError } from "../core/errors.js";
import type { Logger } from "../core/ports.js";
import { conditionalPut, type ReadCounters } from "./profile-item-writes.js";
import type { TokenCipher } from "./token-cipher.js";
import { profileItemKey, TOKEN_TABLE_SCHEMA } from "./token-table.js";

/** The table and what opens and reports its items. */
export interface ItemTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly cipher: TokenCipher;
  readonly logger: Logger;
}

/** The profile's item, read strongly consistently; `undefined` when there is none. */
export async function getItem(
  table: ItemTable,
  profile: string,
): Promise<Record<string, AttributeValue> | undefined> {
  try {
    const output = await table.client.send(
      new GetItemCommand({
        TableName: table.tableName,
        Key: { [TOKEN_TABLE_SCHEMA.partitionKey]: { S: profileItemKey(profile) } },
        ConsistentRead: true,
      }),
    );
    return output.Item;
  } catch (error) {
    throw unavailable("read", error);
  }
}

/** Puts `item` iff the item is still the one read; `false`: it is not (a lost race). */
export async function putIfUnchanged(
  table: ItemTable,
  item: Record<string, AttributeValue>,
  read: ReadCounters,
  what: string,
): Promise<boolean> {
  try {
    await table.client.send(new PutItemCommand(conditionalPut(table.tableName, item, read)));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw unavailable(what, error);
  }
}

/** A new item's incarnation: random, so a writer that read an earlier life is refused. */
export function newIncarnation(): string {
  return randomBytes(12).toString("base64url");
}

/** The table failed (anything but a lost race): the core decides (it fails open where it may). */
export function unavailable(what: string, error: unknown): UpstreamUnavailableError {
  return new UpstreamUnavailableError({
    dependency: "table",
    kind: "failed",
    detail: `profile item ${what} failed: ${describeUnknown(error)}`,
    retryAfterSeconds: 2,
    cause: error,
  });
}
