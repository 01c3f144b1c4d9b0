/**
 * The shared token cache in DynamoDB: one item per profile, holding a sealed record of the token
 * (see `sealed-token-record.ts`: an item edited without the KMS key is a miss, never served).
 *
 * A forged item must never block the next write either. The put is conditional (a slow writer
 * must not replace a fresher token), and the condition can only compare plaintext hints, which a
 * forger controls. So the condition also lets a write through when:
 * - the item holds no string record at all (not ours: another writer's, or an older layout);
 * - the record is exactly the one this instance last refused for that profile. The store
 *   remembers the raw sealed value of an item it could not use, and the next put replaces exactly
 *   that value. An edit made after our read is another value: that put may be refused on the
 *   forged hints, but the item is still never served, and the next read remembers it, so the
 *   write after that replaces it.
 * Otherwise the ordering rule ({@link supersedesStored}) decides.
 *
 * A `DELETE` replaces the item with a record of when it was made (`deletedAt`, no token). A put of
 * a token whose credentials were read before then is refused, unless that time is later than a
 * genuine `DELETE` could have written (an edit, which must not block the profile).
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describeUnknown } from "../core/errors.js";
import type { Logger, StoredItem, TokenStore, WriteBasis } from "../core/ports.js";
import { MAX_BACK_OFF_MS, MAX_CLOCK_SKEW_MS } from "../core/timing.js";
import type { CachedToken } from "../core/token.js";
import { HINTS, openTokenItem, SEALED_RECORD, sealTokenItem } from "./sealed-token-record.js";
import type { TokenCipher } from "./token-cipher.js";
import { backOffItemKey, leaseItemKey, TOKEN_TABLE_SCHEMA, tokenItemKey } from "./token-table.js";

const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;
/** The attribute of a `DELETE`'s record: when it was made (epoch ms). */
const DELETED_AT = "deletedAt";
/** How long a `DELETE`'s record stays once no token has replaced it, in seconds. */
const DELETION_KEPT_SECONDS = 24 * 3600;
// Refused values are kept per profile; the bound only guards against a store asked for names
// that are not configured profiles.
const REFUSED_VALUES_KEPT = 256;

/** Reads and writes token items; an item it cannot use is reported and treated as a miss. */
export class DynamoDbTokenStore implements TokenStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #cipher: TokenCipher;
  readonly #logger: Logger;
  /** Profile -> the raw sealed value of the item last refused for it. */
  readonly #refused = new Map<string, string>();

  constructor(client: DynamoDBClient, tableName: string, cipher: TokenCipher, logger: Logger) {
    this.#client = client;
    this.#tableName = tableName;
    this.#cipher = cipher;
    this.#logger = logger;
  }

  async get(profile: string): Promise<StoredItem> {
    const key = tokenItemKey(profile);
    const output = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: key } },
        ConsistentRead: true,
      }),
    );
    const item = output.Item;
    if (!item) return {};
    const deletedAt = numberOf(item[DELETED_AT]);
    if (deletedAt !== undefined && item[SEALED_RECORD] === undefined) return { deletedAt };
    const opened = await openTokenItem(this.#cipher, key, item);
    if ("token" in opened) {
      this.#refused.delete(profile);
      return { token: opened.token };
    }
    this.#rememberRefused(profile, item[SEALED_RECORD]?.S);
    if (opened.reason === "undecryptable") {
      this.#logger.warn("token item does not decrypt; treating as a miss", {
        profile,
        reason: describeUnknown(opened.cause),
      });
    } else if (opened.reason === "hints edited") {
      this.#logger.warn("token item was edited outside the function; treating as a miss", {
        profile,
      });
    } else {
      this.#logger.warn("token item is malformed; treating as a miss", { profile });
    }
    return {};
  }

  async put(profile: string, token: CachedToken, basis: WriteBasis): Promise<boolean> {
    const key = tokenItemKey(profile);
    const refused = this.#refused.get(profile);
    const ordering = supersedesStored(token, basis);
    const names: Record<string, string> = {
      "#pk": partitionKey,
      "#record": SEALED_RECORD,
      "#deletedAt": DELETED_AT,
      ...ordering.names,
    };
    const values: Record<string, AttributeValue> = {
      ":string": { S: "S" },
      ":number": { S: "N" },
      ...ordering.values,
    };
    // A token item: ours to order, or not ours to keep. A DELETE's record (a time and no record,
    // as `get` reads it; a time beside a record is an edit, and the record decides): only the very
    // record the refresh read, whatever its time (deletion-record.ts); any other refuses the write.
    const overToken = ["NOT attribute_type(#record, :string)", `(${ordering.expression})`];
    if (refused !== undefined) {
      overToken.push("#record = :refused");
      values[":refused"] = { S: refused };
    }
    const overDeletion = ["NOT attribute_type(#deletedAt, :number)"];
    if (basis.deletionRead !== undefined) {
      overDeletion.push("#deletedAt = :deletionRead");
      values[":deletionRead"] = { N: String(basis.deletionRead) };
    }
    const condition = [
      "attribute_not_exists(#pk)",
      `((attribute_exists(#record) OR attribute_not_exists(#deletedAt)) AND (${overToken.join(" OR ")}))`,
      `(attribute_not_exists(#record) AND attribute_exists(#deletedAt) AND (${overDeletion.join(" OR ")}))`,
    ].join(" OR ");
    const written = await ignoringConditionFailure(
      this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: { [partitionKey]: { S: key }, ...(await sealTokenItem(this.#cipher, key, token)) },
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
    if (written) this.#refused.delete(profile);
    return written;
  }

  async delete(profile: string, at: number): Promise<CachedToken | undefined> {
    const key = tokenItemKey(profile);
    const output = await this.#client.send(
      new PutItemCommand({
        TableName: this.#tableName,
        Item: {
          [partitionKey]: { S: key },
          [DELETED_AT]: { N: String(at) },
          [timeToLiveAttribute]: { N: String(Math.ceil(at / 1000) + DELETION_KEPT_SECONDS) },
        },
        // What was deleted is what must be revoked, even if it was written after a read.
        ReturnValues: "ALL_OLD",
      }),
    );
    if (!output.Attributes) return undefined;
    const opened = await openTokenItem(this.#cipher, key, output.Attributes).catch(() => ({}));
    return "token" in opened ? opened.token : undefined;
  }

  async acquireLease(profile: string, owner: string, now: number, until: number): Promise<boolean> {
    return ignoringConditionFailure(
      this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            [partitionKey]: { S: leaseItemKey(profile) },
            owner: { S: owner },
            leaseUntil: { N: String(until) },
            // A lease left by a crashed owner is cleaned up by TTL; its expiry is what frees it.
            [timeToLiveAttribute]: { N: String(Math.ceil(until / 1000) + 3600) },
          },
          // Free, expired, or not a lease this code could have written: a `leaseUntil` that is
          // not a number, or later than any lease taken now could last (on any instance's clock),
          // was put there by someone editing the table, and must not stop every refresh of the
          // profile. Without the skew, a lease just taken on a clock a little ahead looked forged.
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

  async putBackOff(profile: string, until: number): Promise<void> {
    await ignoringConditionFailure(
      this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            [partitionKey]: { S: backOffItemKey(profile) },
            backOffUntil: { N: String(until) },
            [timeToLiveAttribute]: { N: String(Math.ceil(until / 1000) + 3600) },
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

  async getBackOff(profile: string): Promise<number | undefined> {
    const output = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: backOffItemKey(profile) } },
        ConsistentRead: true,
      }),
    );
    return numberOf(output.Item?.backOffUntil);
  }

  async releaseLease(profile: string, owner: string): Promise<void> {
    await ignoringConditionFailure(
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#tableName,
          Key: { [partitionKey]: { S: leaseItemKey(profile) } },
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": { S: owner } },
        }),
      ),
    );
  }

  #rememberRefused(profile: string, sealed: string | undefined): void {
    this.#refused.delete(profile);
    // No string record: the condition's `attribute_type` clause lets the next write through.
    if (sealed === undefined) return;
    if (this.#refused.size >= REFUSED_VALUES_KEPT) {
      const oldest = this.#refused.keys().next().value;
      if (oldest !== undefined) this.#refused.delete(oldest);
    }
    this.#refused.set(profile, sealed);
  }
}

/**
 * The ordering rule of the conditional write, on the stored item's plaintext hints: `token`
 * replaces a stored token of the same identity issued earlier (by issue time, not expiry: when a
 * tenant shortens lifetimes, the newer, shorter token wins), or one of another identity issued
 * before our credentials were read (one issued later came from credentials read later than ours).
 */
export function supersedesStored(
  token: CachedToken,
  basis: WriteBasis,
): {
  expression: string;
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
} {
  return {
    expression:
      "(#cacheKey = :cacheKey AND #issuedAt < :issuedAt) OR (#cacheKey <> :cacheKey AND #issuedAt < :credentialsReadAt)",
    names: { "#cacheKey": HINTS.cacheKey, "#issuedAt": HINTS.issuedAt },
    values: {
      ":cacheKey": { S: token.cacheKey },
      ":issuedAt": { N: String(token.issuedAt) },
      ":credentialsReadAt": { N: String(basis.credentialsReadAt) },
    },
  };
}

// A failed condition means another writer got there first with something at least as good.
async function ignoringConditionFailure(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  const parsed = value?.N === undefined ? Number.NaN : Number(value.N);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
