/**
 * The shared cache in DynamoDB: ONE item per profile (`profile#<name>`, see
 * `profile-item-codec.ts`) holding the profile's whole shared record, changed only by single-item
 * writes and never by a transaction (multi-Region strongly consistent global tables take
 * single-item conditional writes, not transactions).
 *
 * - `read`: one strongly consistent `GetItem`.
 * - `write`: one `PutItem` of the whole record, iff the item is still the one read (same
 *   `incarnation` and `version`, or still none); a lost race answers `false`.
 * - `delete`: one `UpdateItem` with no condition on what was read (`epoch + 1`, every token and
 *   place removed), answering the item as it was.
 *
 * Tokens are sealed (`sealed-token-record.ts`); a read never throws on an item it cannot use: what
 * was edited is left out of the record and logged, and the next write replaces the whole item.
 */
import { randomBytes } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describeUnknown, UpstreamUnavailableError } from "../core/errors.js";
import type {
  DeletedRecord,
  Logger,
  ProfileStore,
  RecordRead,
  StoredToken,
  TokenStamp,
} from "../core/ports.js";
import {
  deleteTokens,
  expiryOf,
  type ProfileRecord,
  type SetEntry,
} from "../core/profile-record.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../core/timing.js";
import type { CachedToken } from "../core/token.js";
import { ATTRIBUTES, decodeItem, encodeItem } from "./profile-item-codec.js";
import {
  FreshToken,
  SealedToken,
  sealedOf,
  type TokenPlace,
  tokenAttributeFor,
} from "./profile-item-tokens.js";
import { conditionalPut, countersOf, deletion, type ReadCounters } from "./profile-item-writes.js";
import { openToken } from "./sealed-token-record.js";
import type { TokenCipher } from "./token-cipher.js";
import { isSetTag, profileItemKey, TOKEN_TABLE_SCHEMA } from "./token-table.js";

/**
 * How long an item outlives the last `DELETE` at least: longer than the leases and back-off it
 * keeps, and longer than any `DELETE`'s own read of the ledger, so no incarnation ends while a
 * `DELETE` of it still decides by it.
 */
export const DELETE_KEPT_MS = MAX_BACK_OFF_MS + LEASE_MS;
// A DELETE that meets an item edited so that its counters cannot be added to cleans it and goes again.
const DELETE_ATTEMPTS = 3;

interface ReadBasis {
  readonly counters: ReadCounters;
  readonly ttl?: number;
}

/** The {@link ProfileStore} on one DynamoDB item per profile. */
export class DynamoDbProfileStore implements ProfileStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #cipher: TokenCipher;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #reads = new WeakMap<RecordRead, ReadBasis>();

  constructor(
    client: DynamoDBClient,
    tableName: string,
    cipher: TokenCipher,
    logger: Logger,
    now: () => number = Date.now,
  ) {
    this.#client = client;
    this.#tableName = tableName;
    this.#cipher = cipher;
    this.#logger = logger;
    this.#now = now;
  }

  async read(profile: string): Promise<RecordRead> {
    const item = await this.#get(profile);
    const decoded = decodeItem(item);
    if (decoded.edits.length > 0) {
      this.#logger.warn("profile item was edited outside the function; edited parts are misses", {
        profile,
        edited: decoded.edits.slice(0, 8),
      });
    }
    const place = this.#place(profile);
    const { incarnation } = decoded.record;
    const sets = new Map<string, SetEntry<StoredToken>>();
    for (const [tag, { token, ...rest }] of decoded.record.sets) {
      const stored = token && { ...token, token: new SealedToken(place, tag, token, incarnation) };
      sets.set(tag, stored ? { ...rest, token: stored } : rest);
    }
    const read: RecordRead = { record: { ...decoded.record, sets } };
    this.#reads.set(read, {
      counters: countersOf(item),
      ...(decoded.ttl === undefined ? {} : { ttl: decoded.ttl }),
    });
    return read;
  }

  async write(
    profile: string,
    read: RecordRead,
    next: ProfileRecord<StoredToken>,
  ): Promise<boolean> {
    const basis = this.#reads.get(read);
    if (!basis) throw new Error("write() needs a read made by this store");
    const place = this.#place(profile);
    // The core names a new item's incarnation; a record without one is not written without one.
    const incarnation = next.incarnation ?? read.record.incarnation ?? newIncarnation();
    const tokens = new Map<string, AttributeValue>();
    for (const [tag, entry] of next.sets) {
      if (!entry.token) continue;
      const attribute = await tokenAttributeFor(place, tag, entry.token, incarnation);
      if (attribute) tokens.set(tag, attribute);
    }
    const item = encodeItem({
      key: place.itemKey,
      incarnation,
      version: read.record.version + 1,
      record: next,
      tokens,
      ttl: this.#ttlAfterWrite(next, basis),
    });
    try {
      await this.#client.send(
        new PutItemCommand(conditionalPut(this.#tableName, item, basis.counters)),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw unavailable("write", error);
    }
  }

  async delete(profile: string, now: number): Promise<DeletedRecord> {
    const itemKey = profileItemKey(profile);
    const ttl = Math.ceil((now + DELETE_KEPT_MS) / 1000);
    for (let attempt = 1; attempt <= DELETE_ATTEMPTS; attempt += 1) {
      const fresh = newIncarnation();
      let old: Record<string, AttributeValue> | undefined;
      try {
        const input = deletion(this.#tableName, itemKey, fresh, ttl);
        old = (await this.#client.send(new UpdateItemCommand(input))).Attributes;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw unavailable("delete", error);
        const cleaned = await this.#cleanDeletion(profile, ttl);
        if (cleaned) return cleaned;
        continue;
      }
      const decoded = decodeItem(old);
      if (!decoded.countersIntact) {
        // Counters of a shape this code never writes (a fraction): the write landed, but its epoch
        // means nothing. Replace the item under a new incarnation, as for any other edit.
        const cleaned = await this.#cleanDeletion(profile, ttl, old);
        if (cleaned) return cleaned;
        continue;
      }
      return {
        incarnation: decoded.record.incarnation ?? fresh,
        epoch: decoded.record.epoch,
        dropped: await this.#openDropped(profile, old),
      };
    }
    throw unavailable("delete", new Error("the profile's item kept changing shape"));
  }

  fresh(_profile: string, tag: string, token: CachedToken, stamp: TokenStamp): StoredToken {
    return new FreshToken(tag, token, stamp);
  }

  /**
   * A `DELETE` of an item whose counters were edited out of shape: the whole item replaced, iff it
   * is still the one read, by a clean one under a new incarnation, with no token and no place and
   * the leases and back-off it held. It answers epoch 0 of that new incarnation, so every ledger
   * entry of the item's earlier lives is revocable. `undefined`: the item changed meanwhile.
   */
  async #cleanDeletion(
    profile: string,
    ttl: number,
    dropped?: Record<string, AttributeValue>,
  ): Promise<DeletedRecord | undefined> {
    const item = await this.#get(profile);
    const decoded = decodeItem(item);
    if (!item || decoded.countersIntact) return undefined;
    const incarnation = newIncarnation();
    const clean = encodeItem({
      key: profileItemKey(profile),
      incarnation,
      version: 1,
      record: deleteTokens({ ...decoded.record, epoch: 0 }),
      tokens: new Map(),
      ttl,
    });
    try {
      await this.#client.send(
        new PutItemCommand(conditionalPut(this.#tableName, clean, countersOf(item))),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw unavailable("delete", error);
    }
    this.#logger.warn("profile item was edited out of shape; the DELETE replaced it", { profile });
    const opened = await Promise.all([
      this.#openDropped(profile, item),
      dropped ? this.#openDropped(profile, dropped) : [],
    ]);
    return { incarnation, epoch: 0, dropped: opened.flat() };
  }

  // Every token the item held that opens, whatever its epoch or hints: all are to be revoked.
  async #openDropped(
    profile: string,
    item: Record<string, AttributeValue> | undefined,
  ): Promise<CachedToken[]> {
    const itemKey = profileItemKey(profile);
    const entries = Object.entries(item?.[ATTRIBUTES.tokens]?.M ?? {});
    let unopened = 0;
    const opened = await Promise.all(
      entries.map(async ([tag, value]) => {
        const sealed = sealedOf(value);
        if (!isSetTag(tag) || sealed === undefined) return undefined;
        return openToken(this.#cipher, itemKey, tag, sealed).catch(() => undefined);
      }),
    );
    const tokens: CachedToken[] = [];
    for (const token of opened) {
      if (token) tokens.push(token.token);
      else unopened += 1;
    }
    if (unopened > 0) {
      this.#logger.warn("tokens the DELETE dropped do not open; they cannot be revoked", {
        profile,
        unopened,
      });
    }
    return tokens;
  }

  async #get(profile: string): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const output = await this.#client.send(
        new GetItemCommand({
          TableName: this.#tableName,
          Key: { [TOKEN_TABLE_SCHEMA.partitionKey]: { S: profileItemKey(profile) } },
          ConsistentRead: true,
        }),
      );
      return output.Item;
    } catch (error) {
      throw unavailable("read", error);
    }
  }

  // The record's own end; and the end a recent DELETE set, carried over (never further than a
  // DELETE now would set it), so a write soon after a DELETE does not let the item vanish while
  // that DELETE still decides by its incarnation.
  #ttlAfterWrite(next: ProfileRecord<StoredToken>, basis: ReadBasis): number {
    const own = Math.ceil(expiryOf(next) / 1000);
    const cap = Math.ceil((this.#now() + DELETE_KEPT_MS) / 1000);
    return Math.max(own, Math.min(basis.ttl ?? 0, cap));
  }

  #place(profile: string): TokenPlace {
    return {
      cipher: this.#cipher,
      logger: this.#logger,
      profile,
      itemKey: profileItemKey(profile),
    };
  }
}

/** A new item's incarnation: random, so a writer that read an earlier life is refused. */
function newIncarnation(): string {
  return randomBytes(12).toString("base64url");
}

// The table failed (anything but a lost race): the core decides (it fails open where it may).
function unavailable(what: string, error: unknown): UpstreamUnavailableError {
  return new UpstreamUnavailableError({
    dependency: "table",
    kind: "failed",
    detail: `profile item ${what} failed: ${describeUnknown(error)}`,
    retryAfterSeconds: 2,
    cause: error,
  });
}
