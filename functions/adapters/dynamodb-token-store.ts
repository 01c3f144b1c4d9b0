/**
 * The shared token cache in DynamoDB: one token item per scope set of a profile, holding a sealed
 * record of the token (see `sealed-token-record.ts`: an item edited without the KMS key is a
 * miss, never served), beside the profile's own item (`profile-item.ts`: its `DELETE` record and
 * live sets) and the lease and back-off items (`lease-items.ts`).
 *
 * A token is sealed with the profile's `DELETE` record its writer read, and a read serves it only
 * while the profile's record is still that one: one write of the profile item drops every set's
 * token at once, the sets no instance knew of included.
 *
 * The put is conditional: the table's admission rule (`core/admission.ts`, written as a condition
 * in `token-admission-condition.ts`) keeps a slow writer from replacing a fresher token and a
 * token of a dropped identity from refilling the table after a `DELETE`. The condition can only
 * compare plaintext hints, which a forger controls, so it also lets a write through over the exact
 * record this instance last refused: the store remembers the raw sealed value of an item it could
 * not use, and the next put replaces exactly that value. An edit made after our read is another
 * value: that put may be refused, but the item is still never served, and the next read
 * remembers it, so the write after that replaces it.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { servableUnder } from "../core/admission.js";
import { describeUnknown } from "../core/errors.js";
import type {
  Logger,
  PlaceAsk,
  PlaceOutcome,
  ProfileRecord,
  StoredItem,
  TokenPut,
  TokenStore,
  WriteBasis,
} from "../core/ports.js";
import type { ScopeSet } from "../core/scope-set.js";
import type { CachedToken } from "../core/token.js";
import { acquireLease, getBackOff, numberOf, putBackOff, releaseLease } from "./lease-items.js";
import { type ProfileItem, readProfileItem, recordDeletion, takePlace } from "./profile-item.js";
import { openTokenItem, SEALED_RECORD, sealTokenItem } from "./sealed-token-record.js";
import { admissionCondition, DELETED_AT } from "./token-admission-condition.js";
import type { TokenCipher } from "./token-cipher.js";
import { setTag, TOKEN_TABLE_SCHEMA, tokenItemKey, tokenItemKeyOfTag } from "./token-table.js";

const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;
/** How long a `DELETE`'s record stays once no token has replaced it, in seconds. */
const DELETION_KEPT_SECONDS = 24 * 3600;
// Refused values are kept per token item; the bound guards against a store asked for names that
// are not configured profiles, or ever new scope sets.
const REFUSED_VALUES_KEPT = 256;

/** Reads and writes token items; an item it cannot use is reported and treated as a miss. */
export class DynamoDbTokenStore implements TokenStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #cipher: TokenCipher;
  readonly #logger: Logger;
  /** Token item key -> the raw sealed value of the item last refused for it. */
  readonly #refused = new Map<string, string>();

  constructor(client: DynamoDBClient, tableName: string, cipher: TokenCipher, logger: Logger) {
    this.#client = client;
    this.#tableName = tableName;
    this.#cipher = cipher;
    this.#logger = logger;
  }

  get #table() {
    return { client: this.#client, tableName: this.#tableName };
  }

  async get(profile: string, set: ScopeSet): Promise<StoredItem> {
    // Both at once: the timing budget counts one table call for a read.
    const [own, shared] = await Promise.all([
      this.#getTokenItem(profile, set),
      readProfileItem(this.#table, profile),
    ]);
    // Sealed under another DELETE record: that DELETE (or a later one) dropped it.
    const dropped = own.item.token && !servableUnder(own.stamp, shared?.deletedAt);
    const item = dropped ? {} : own.item;
    return shared ? { ...item, profile: profileRecord(shared, set) } : item;
  }

  async #getTokenItem(
    profile: string,
    set: ScopeSet,
  ): Promise<{ readonly item: StoredItem; readonly stamp?: number }> {
    const key = tokenItemKey(profile, set);
    const output = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: key } },
        ConsistentRead: true,
      }),
    );
    const item = output.Item;
    if (!item) return { item: {} };
    const deletedAt = numberOf(item[DELETED_AT]);
    if (deletedAt !== undefined && item[SEALED_RECORD] === undefined) {
      return { item: { deletedAt } };
    }
    const opened = await openTokenItem(this.#cipher, key, item);
    if ("token" in opened) {
      this.#refused.delete(key);
      return {
        item: { token: opened.token },
        ...(opened.stamp === undefined ? {} : { stamp: opened.stamp }),
      };
    }
    this.#rememberRefused(key, item[SEALED_RECORD]?.S);
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
    return { item: {} };
  }

  async put(
    profile: string,
    set: ScopeSet,
    token: CachedToken,
    basis: WriteBasis,
  ): Promise<TokenPut> {
    const key = tokenItemKey(profile, set);
    const sealed = await sealTokenItem(this.#cipher, key, token, basis.profileDeletionRead);
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: { [partitionKey]: { S: key }, ...sealed },
          ...admissionCondition(token, basis, this.#refused.get(key)),
          // What refused it, at no extra call: a DELETE's record is told apart from a token.
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return isDeletionRecord(error.Item) ? "deleted" : "refused";
    }
    this.#refused.delete(key);
    return "stored";
  }

  async deleteProfile(
    profile: string,
    at: number,
    known: readonly ScopeSet[],
  ): Promise<CachedToken[]> {
    // The record first: from here no set's token is served, whoever knows of the set. Each set's
    // item gets the same record, `at` or later: distinct from every earlier DELETE's.
    const { record, placed } = await recordDeletion(this.#table, profile, at);
    const keys = new Set(
      [...placed, ...known.map(setTag)].map((tag) => tokenItemKeyOfTag(profile, tag)),
    );
    const deleted = await Promise.all([...keys].map((key) => this.#deleteItem(key, record)));
    return deleted.filter((token): token is CachedToken => token !== undefined);
  }

  delete(profile: string, set: ScopeSet, at: number): Promise<CachedToken | undefined> {
    return this.#deleteItem(tokenItemKey(profile, set), at);
  }

  async #deleteItem(key: string, at: number): Promise<CachedToken | undefined> {
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

  takePlace(profile: string, set: ScopeSet, ask: PlaceAsk): Promise<PlaceOutcome> {
    return takePlace(this.#table, profile, set, ask);
  }

  acquireLease(
    profile: string,
    set: ScopeSet,
    owner: string,
    now: number,
    until: number,
  ): Promise<boolean> {
    return acquireLease(this.#table, { profile, set }, owner, now, until);
  }

  releaseLease(profile: string, set: ScopeSet, owner: string): Promise<void> {
    return releaseLease(this.#table, { profile, set }, owner);
  }

  putBackOff(profile: string, until: number): Promise<void> {
    return putBackOff(this.#table, profile, until);
  }

  getBackOff(profile: string): Promise<number | undefined> {
    return getBackOff(this.#table, profile);
  }

  #rememberRefused(key: string, sealed: string | undefined): void {
    this.#refused.delete(key);
    // No string record: the condition's `attribute_type` clause lets the next write through.
    if (sealed === undefined) return;
    if (this.#refused.size >= REFUSED_VALUES_KEPT) {
      const oldest = this.#refused.keys().next().value;
      if (oldest !== undefined) this.#refused.delete(oldest);
    }
    this.#refused.set(key, sealed);
  }
}

// The profile item as a read of `set` reports it.
function profileRecord(item: ProfileItem, set: ScopeSet): ProfileRecord {
  const liveUntil = item.live.get(setTag(set));
  return {
    ...(item.deletedAt === undefined ? {} : { deletedAt: item.deletedAt }),
    ...(liveUntil === undefined ? {} : { liveUntil }),
  };
}

/** Whether a refusing item is a `DELETE`'s record (a time, no sealed token), as a read sees it. */
function isDeletionRecord(item: Record<string, AttributeValue> | undefined): boolean {
  return item !== undefined && numberOf(item[DELETED_AT]) !== undefined && !item[SEALED_RECORD];
}
