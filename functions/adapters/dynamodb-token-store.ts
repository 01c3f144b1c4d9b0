/**
 * The shared token cache in DynamoDB: one item per profile, the token sealed by a
 * {@link TokenCipher}, the expiry in the TTL attribute.
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
import type { Logger, TokenStore } from "../core/ports.js";
import type { CachedToken } from "../core/token.js";
import type { TokenCipher } from "./token-cipher.js";
import { leaseItemKey, TOKEN_TABLE_SCHEMA, tokenItemKey } from "./token-table.js";

const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;

/** Reads and writes token items; an item it cannot open is reported and treated as a miss. */
export class DynamoDbTokenStore implements TokenStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #cipher: TokenCipher;
  readonly #logger: Logger;

  constructor(client: DynamoDBClient, tableName: string, cipher: TokenCipher, logger: Logger) {
    this.#client = client;
    this.#tableName = tableName;
    this.#cipher = cipher;
    this.#logger = logger;
  }

  async get(profile: string): Promise<CachedToken | undefined> {
    const key = tokenItemKey(profile);
    const output = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: key } },
        ConsistentRead: true,
      }),
    );
    const item = output.Item;
    if (!item) return undefined;
    const fields = {
      cacheKey: item.cacheKey?.S,
      sealedToken: item.sealedToken?.S,
      issuedAt: numberOf(item.issuedAt),
      expiresAt: numberOf(item.expiresAt),
    };
    if (
      !fields.cacheKey ||
      !fields.sealedToken ||
      fields.issuedAt === undefined ||
      fields.expiresAt === undefined
    ) {
      this.#logger.warn("token item is malformed; treating as a miss", { profile });
      return undefined;
    }
    let accessToken: string;
    try {
      accessToken = await this.#cipher.open(
        fields.sealedToken,
        sealingContext(key, fields.cacheKey),
      );
    } catch (error) {
      this.#logger.warn("token item does not decrypt; treating as a miss", {
        profile,
        reason: describeUnknown(error),
      });
      return undefined;
    }
    const scope = item.scope?.S;
    return {
      cacheKey: fields.cacheKey,
      accessToken,
      ...(scope === undefined ? {} : { scope }),
      issuedAt: fields.issuedAt,
      expiresAt: fields.expiresAt,
    };
  }

  async put(profile: string, token: CachedToken): Promise<void> {
    const key = tokenItemKey(profile);
    const item: Record<string, AttributeValue> = {
      [partitionKey]: { S: key },
      cacheKey: { S: token.cacheKey },
      sealedToken: {
        S: await this.#cipher.seal(token.accessToken, sealingContext(key, token.cacheKey)),
      },
      issuedAt: { N: String(token.issuedAt) },
      expiresAt: { N: String(token.expiresAt) },
      // Rounded down: DynamoDB may keep the item longer, but never because we said so.
      [timeToLiveAttribute]: { N: String(Math.floor(token.expiresAt / 1000)) },
    };
    if (token.scope !== undefined) item.scope = { S: token.scope };
    await ignoringConditionFailure(
      this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression:
            "attribute_not_exists(#pk) OR #cacheKey <> :cacheKey OR #issuedAt < :issuedAt",
          ExpressionAttributeNames: {
            "#pk": partitionKey,
            "#cacheKey": "cacheKey",
            "#issuedAt": "issuedAt",
          },
          ExpressionAttributeValues: {
            ":cacheKey": { S: token.cacheKey },
            ":issuedAt": { N: String(token.issuedAt) },
          },
        }),
      ),
    );
  }

  async delete(profile: string): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: tokenItemKey(profile) } },
      }),
    );
  }

  async acquireLease(profile: string, owner: string, now: number, until: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            [partitionKey]: { S: leaseItemKey(profile) },
            owner: { S: owner },
            leaseUntil: { N: String(until) },
            // A lease left by a crashed owner is cleaned up by TTL; its expiry is what frees it.
            [timeToLiveAttribute]: { N: String(Math.ceil(until / 1000) + 3600) },
          },
          ConditionExpression: "attribute_not_exists(#pk) OR #leaseUntil < :now",
          ExpressionAttributeNames: { "#pk": partitionKey, "#leaseUntil": "leaseUntil" },
          ExpressionAttributeValues: { ":now": { N: String(now) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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
}

// A failed condition means another writer got there first with something at least as good.
async function ignoringConditionFailure(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

// The ciphertext is bound to its item and identity: copied elsewhere, it does not open.
function sealingContext(itemKey: string, cacheKey: string): string {
  return `${itemKey}\n${cacheKey}`;
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  const parsed = value?.N === undefined ? Number.NaN : Number(value.N);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
