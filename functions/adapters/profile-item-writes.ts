/**
 * The writes of a profile's item (see `profile-item-codec.ts`), as plain DynamoDB inputs: each
 * states in its condition the one rule it keeps.
 *
 * - A decision (lease, token, release, back-off, place): ONE `PutItem` of the whole record, iff
 *   the item is still the one read: the same `incarnation` and `version`, compared as the exact
 *   attribute values read (so an edited item is replaced as a whole by the next write, never
 *   stuck), or still no item at all.
 * - A `DELETE`: ONE `UpdateItem` that needs no condition on what was read: `epoch + 1`,
 *   `version + 1`, every token and place removed. Its only condition is that the counters it adds
 *   to are numbers this code could have written; an item edited so that they are not is cleaned by
 *   `profile-item-deletion.ts` (replaced whole under a new incarnation).
 */
import type {
  AttributeValue,
  PutItemCommandInput,
  UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { ATTRIBUTES } from "./profile-item-codec.js";

const { key, incarnation, version, epoch, tokens, places, ttl } = ATTRIBUTES;

/** What a write's condition compares: the item as read (absent: there was none). */
export interface ReadCounters {
  readonly exists: boolean;
  readonly incarnation?: AttributeValue;
  readonly version?: AttributeValue;
}

/** The counters of a raw item, as its write condition compares them. */
export function countersOf(item: Record<string, AttributeValue> | undefined): ReadCounters {
  if (!item) return { exists: false };
  return {
    exists: true,
    ...(item[incarnation] ? { incarnation: item[incarnation] } : {}),
    ...(item[version] ? { version: item[version] } : {}),
  };
}

/** Puts `item` iff the item is still the one read (see {@link ReadCounters}). */
export function conditionalPut(
  tableName: string,
  item: Record<string, AttributeValue>,
  read: ReadCounters,
): PutItemCommandInput {
  if (!read.exists) {
    return {
      TableName: tableName,
      Item: item,
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeNames: { "#pk": key },
    };
  }
  const names: Record<string, string> = { "#pk": key, "#inc": incarnation, "#ver": version };
  const values: Record<string, AttributeValue> = {};
  const same = (path: string, value: AttributeValue | undefined, name: string) => {
    if (value === undefined) return `attribute_not_exists(${path})`;
    values[name] = value;
    return `${path} = ${name}`;
  };
  const condition = [
    "attribute_exists(#pk)",
    same("#inc", read.incarnation, ":inc"),
    same("#ver", read.version, ":ver"),
  ].join(" AND ");
  return {
    TableName: tableName,
    Item: item,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

// Counters the DELETE can add to: absent, or a number in the range this code writes. (Two
// comparisons, not BETWEEN: moto's BETWEEN refuses a value equal to a lower bound of 0.)
const COUNTABLE = (path: string) =>
  `(attribute_not_exists(${path}) OR (attribute_type(${path}, :n) AND ${path} >= :zero AND ${path} <= :max))`;

/**
 * The `DELETE`: next epoch and version, no token and no place; a missing item is created with the
 * incarnation `fresh`. Answers the item as it was (`ALL_OLD`): the epoch it ends and the tokens it
 * dropped.
 */
export function deletion(
  tableName: string,
  itemKey: string,
  fresh: string,
  ttlSeconds: number,
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [key]: { S: itemKey } },
    UpdateExpression:
      "SET #tokens = :empty, #places = :empty, #inc = if_not_exists(#inc, :fresh), #ttl = :ttl ADD #epoch :one, #ver :one",
    ConditionExpression: [
      "(attribute_not_exists(#inc) OR attribute_type(#inc, :s))",
      COUNTABLE("#epoch"),
      COUNTABLE("#ver"),
    ].join(" AND "),
    ExpressionAttributeNames: {
      "#tokens": tokens,
      "#places": places,
      "#inc": incarnation,
      "#ttl": ttl,
      "#epoch": epoch,
      "#ver": version,
    },
    ExpressionAttributeValues: {
      ":empty": { M: {} },
      ":fresh": { S: fresh },
      ":ttl": { N: String(ttlSeconds) },
      ":one": { N: "1" },
      ":s": { S: "S" },
      ":n": { S: "N" },
      ":zero": { N: "0" },
      ":max": { N: String(Number.MAX_SAFE_INTEGER - 1) },
    },
    ReturnValues: "ALL_OLD",
  };
}
