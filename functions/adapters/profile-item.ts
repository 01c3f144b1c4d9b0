/**
 * A profile's own item in the token table (`sets#<profile>`): the record of its last `DELETE`
 * (`deletedAt`, epoch ms), and the places of its live scope sets (`live`: set tag -> until when,
 * epoch ms; at most `MAX_LIVE_SCOPE_SETS`, `core/live-sets.ts`).
 *
 * Every write replaces the whole item with a new revision (`rev`, a random ID): taking a place is
 * a read, the pure rule `admitSet`, and a put conditioned on the revision read, so two instances
 * placing sets at once cannot both fill the last place, and a place is never taken over a `DELETE`
 * the asker did not read. A `DELETE` is a put of its record with no places (every set asks again),
 * returning the places it replaced: those sets' token items are deleted next. Its condition only
 * keeps the record later than the one before (`nextDeletionRecord`), so no two `DELETE`s ever
 * record the same value, whatever their clocks: a record is how a write and a read tell them apart.
 * Tokens of a set it did not know of are not served anyway: a token item is sealed with the record
 * its writer read (`sealed-token-record.ts`) and served only while the profile's record is that one.
 *
 * The item has no TTL: its record must outlive every token written before it. One small item per
 * profile ever configured.
 */
import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { nextDeletionRecord } from "../core/admission.js";
import { admitSet } from "../core/live-sets.js";
import type { PlaceAsk, PlaceOutcome } from "../core/ports.js";
import type { ScopeSet } from "../core/scope-set.js";
import { numberOf } from "./lease-items.js";
import { isSetTag, profileItemKey, setTag, TOKEN_TABLE_SCHEMA } from "./token-table.js";

const { partitionKey } = TOKEN_TABLE_SCHEMA;
const DELETED_AT = "deletedAt";
const LIVE = "live";
const REV = "rev";
// Two instances placing sets at once: the loser reads again once, then tells its caller to retry.
const PLACE_ROUNDS = 2;
// Other DELETEs landing between a DELETE's refused record and its next: rounds before giving up.
const DELETION_ROUNDS = 4;

/** The profile item as read. */
export interface ProfileItem {
  /** The `DELETE` record, when it is a number (anything else is an edit, and counts as none). */
  readonly deletedAt: number | undefined;
  /** The places: set tag -> until when (epoch ms); entries that are not numbers are dropped. */
  readonly live: ReadonlyMap<string, number>;
  /** The revision read, for the conditional put (absent: no item, or one without a revision). */
  readonly rev: string | undefined;
  /** The item's `deletedAt` attribute exactly as stored, kept as it is when places change. */
  readonly rawDeletedAt: AttributeValue | undefined;
}

/** The table the profile items live in. */
export interface ProfileTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/** Reads the profile's item (strongly consistent); `undefined` when it has none. */
export async function readProfileItem(
  table: ProfileTable,
  profile: string,
): Promise<ProfileItem | undefined> {
  const output = await table.client.send(
    new GetItemCommand({
      TableName: table.tableName,
      Key: { [partitionKey]: { S: profileItemKey(profile) } },
      ConsistentRead: true,
    }),
  );
  const item = output.Item;
  if (!item) return undefined;
  const live = new Map<string, number>();
  for (const [tag, value] of Object.entries(item[LIVE]?.M ?? {})) {
    const until = numberOf(value);
    if (until !== undefined && isSetTag(tag)) live.set(tag, until);
  }
  return {
    deletedAt: numberOf(item[DELETED_AT]),
    live,
    rev: item[REV]?.S,
    rawDeletedAt: item[DELETED_AT],
  };
}

/** Asks `set` a place (`core/live-sets.ts`), under the `DELETE` record the asker read. */
export async function takePlace(
  table: ProfileTable,
  profile: string,
  set: ScopeSet,
  ask: PlaceAsk,
): Promise<PlaceOutcome> {
  for (let round = 1; ; round += 1) {
    const item = await readProfileItem(table, profile);
    if (item?.deletedAt !== ask.deletionRead) return { taken: false };
    const live = item?.live ?? new Map<string, number>();
    const admitted = admitSet(live, setTag(set), setTag(ask.reserved), ask.now, ask.holdUntil);
    if (!admitted.admitted) return { taken: false, freesAt: admitted.freesAt };
    if (!admitted.changed) return { taken: true };
    const places: Record<string, AttributeValue> = {};
    for (const [tag, until] of admitted.live) places[tag] = { N: String(until) };
    const written = await putRevision(table, profile, item, {
      [LIVE]: { M: places },
      ...(item?.rawDeletedAt === undefined ? {} : { [DELETED_AT]: item.rawDeletedAt }),
    });
    if (written) return { taken: true };
    if (round >= PLACE_ROUNDS) return { taken: false, freesAt: ask.now + 1000 };
  }
}

/** A `DELETE`'s record, as written on the profile's item. */
export interface RecordedDeletion {
  /** The record written: `at`, or later when the stored one was not earlier (`admission.ts`). */
  readonly record: number;
  /** The tags of the sets that held a place. */
  readonly placed: string[];
}

/**
 * Records a `DELETE` made at `at` on the profile's item, dropping every place. The record is
 * `nextDeletionRecord` of the stored one, by a conditional put: the first asks only that the
 * stored record be earlier than `at`; a refusal sends the stored item back (or, from a store that
 * does not, it is read), and the next put asks that the record still be the one refused. Another
 * `DELETE` landing in between starts another round.
 * @throws {ConditionalCheckFailedException} when other writes kept landing in between.
 */
export async function recordDeletion(
  table: ProfileTable,
  profile: string,
  at: number,
): Promise<RecordedDeletion> {
  let stored: AttributeValue | undefined;
  for (let round = 1; ; round += 1) {
    const record = nextDeletionRecord(numberOf(stored), at);
    try {
      const output = await table.client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: {
            [partitionKey]: { S: profileItemKey(profile) },
            [DELETED_AT]: { N: String(record) },
            [REV]: { S: randomUUID() },
          },
          ...recordCondition(record, stored),
          ReturnValues: "ALL_OLD",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      const placed = Object.keys(output.Attributes?.[LIVE]?.M ?? {}).filter(isSetTag);
      return { record, placed };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || round >= DELETION_ROUNDS) {
        throw error;
      }
      stored = error.Item
        ? error.Item[DELETED_AT]
        : (await readProfileItem(table, profile))?.rawDeletedAt;
    }
  }
}

// A DELETE's record replaces one that is earlier, or not a number, or exactly the one refused.
function recordCondition(record: number, refused: AttributeValue | undefined) {
  const earlier =
    "attribute_not_exists(#deletedAt) OR NOT attribute_type(#deletedAt, :number) OR #deletedAt < :record";
  return {
    ConditionExpression: refused ? `${earlier} OR #deletedAt = :refused` : earlier,
    ExpressionAttributeNames: { "#deletedAt": DELETED_AT },
    ExpressionAttributeValues: {
      ":number": { S: "N" },
      ":record": { N: String(record) },
      ...(refused ? { ":refused": refused } : {}),
    },
  };
}

// Puts the item's next revision, if the item is still at the revision read.
async function putRevision(
  table: ProfileTable,
  profile: string,
  read: ProfileItem | undefined,
  attributes: Record<string, AttributeValue>,
): Promise<boolean> {
  const condition =
    read === undefined
      ? {
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": partitionKey },
        }
      : read.rev === undefined
        ? {
            ConditionExpression: "attribute_not_exists(#rev)",
            ExpressionAttributeNames: { "#rev": REV },
          }
        : {
            ConditionExpression: "#rev = :rev",
            ExpressionAttributeNames: { "#rev": REV },
            ExpressionAttributeValues: { ":rev": { S: read.rev } },
          };
  try {
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          [partitionKey]: { S: profileItemKey(profile) },
          ...attributes,
          [REV]: { S: randomUUID() },
        },
        ...condition,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
