/**
 * The table's admission rule (`core/admission.ts`) as a DynamoDB condition expression, one named
 * part per clause of the rule, as Powertools' `DynamoDBPersistenceLayer` names its own. A property
 * test on moto holds this expression to `admits` over generated items; change both together.
 *
 * What the rule's `StoredView` calls each kind of item, in attributes:
 * - none: no item; token: a string `sealedRecord` (a `deletedAt` beside it is an edit, and the
 *   record decides); foreign: a `sealedRecord` of another type, or an item with neither attribute;
 * - deletion: a `deletedAt` and no `sealedRecord`.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { Candidate, WriteBasis } from "../core/admission.js";
import { HINTS, SEALED_RECORD } from "./sealed-token-record.js";
import { TOKEN_TABLE_SCHEMA } from "./token-table.js";

/** The attribute of a `DELETE`'s record: when it was made (epoch ms). */
export const DELETED_AT = "deletedAt";

/** The parts of a conditional `PutItem` that carry the rule. */
export interface AdmissionCondition {
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, AttributeValue>;
}

const itemDoesNotExist = "attribute_not_exists(#pk)";
const isTokenItem = "(attribute_exists(#record) OR attribute_not_exists(#deletedAt))";
const recordIsForeign = "NOT attribute_type(#record, :string)";
const sameIdentityIssuedEarlier = "(#cacheKey = :cacheKey AND #issuedAt < :issuedAt)";
const otherIdentityIssuedBeforeCredentials =
  "(#cacheKey <> :cacheKey AND #issuedAt < :credentialsReadAt)";
const recordIsLastRefused = "#record = :refused";
const isDeletionRecord = "(attribute_not_exists(#record) AND attribute_exists(#deletedAt))";
const deletionIsForeign = "NOT attribute_type(#deletedAt, :number)";
const deletionIsTheOneRead = "#deletedAt = :deletionRead";

/**
 * The condition under which `candidate` replaces the stored item. `lastRefused` is the raw sealed
 * value this instance last read for the profile and could not open (the rule's `lastRefused`).
 */
export function admissionCondition(
  candidate: Candidate,
  basis: WriteBasis,
  lastRefused: string | undefined,
): AdmissionCondition {
  const values: Record<string, AttributeValue> = {
    ":string": { S: "S" },
    ":number": { S: "N" },
    ":cacheKey": { S: candidate.cacheKey },
    ":issuedAt": { N: String(candidate.issuedAt) },
    ":credentialsReadAt": { N: String(basis.credentialsReadAt) },
  };
  const overToken = [
    recordIsForeign,
    sameIdentityIssuedEarlier,
    otherIdentityIssuedBeforeCredentials,
  ];
  if (lastRefused !== undefined) {
    overToken.push(recordIsLastRefused);
    values[":refused"] = { S: lastRefused };
  }
  // Only the very record the refresh read, whatever its time (deletion-record.ts).
  const overDeletion = [deletionIsForeign];
  if (basis.deletionRead !== undefined) {
    overDeletion.push(deletionIsTheOneRead);
    values[":deletionRead"] = { N: String(basis.deletionRead) };
  }
  return {
    ConditionExpression: [
      itemDoesNotExist,
      `(${isTokenItem} AND (${overToken.join(" OR ")}))`,
      `(${isDeletionRecord} AND (${overDeletion.join(" OR ")}))`,
    ].join(" OR "),
    ExpressionAttributeNames: {
      "#pk": TOKEN_TABLE_SCHEMA.partitionKey,
      "#record": SEALED_RECORD,
      "#deletedAt": DELETED_AT,
      "#cacheKey": HINTS.cacheKey,
      "#issuedAt": HINTS.issuedAt,
    },
    ExpressionAttributeValues: values,
  };
}
