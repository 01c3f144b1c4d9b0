/**
 * The shared cache in DynamoDB: ONE item per profile (`profile#<name>`, see
 * `profile-item-codec.ts`) holding the profile's whole shared record, changed only by single-item
 * writes and never by a transaction (multi-Region strongly consistent global tables take
 * single-item conditional writes, not transactions).
 *
 * - `read`: one strongly consistent `GetItem`.
 * - `write`: one `PutItem` of the whole record, iff the item is still the one read (same
 *   `incarnation` and `version`, or still none); a lost race answers `false`.
 * - `delete`: one `UpdateItem` with no condition on what was read (`profile-item-deletion.ts`).
 *
 * Tokens are sealed (`sealed-token-record.ts`); a read never throws on an item it cannot use: what
 * was edited is left out of the record and logged, and the next write replaces the whole item.
 */
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type {
  DeletedRecord,
  Logger,
  ProfileStore,
  RecordRead,
  StoredToken,
  TokenStamp,
} from "../core/ports.js";
import { expiryOf, type ProfileRecord, type SetEntry } from "../core/profile-record.js";
import type { CachedToken } from "../core/token.js";
import { believable } from "./profile-item-bounds.js";
import { decodeItem, encodeItem } from "./profile-item-codec.js";
import { DELETE_KEPT_MS, deleteItem } from "./profile-item-deletion.js";
import {
  getItem,
  type ItemTable,
  newIncarnation,
  putIfUnchanged,
  unavailable,
} from "./profile-item-table.js";
import {
  FreshToken,
  SealedToken,
  type TokenPlace,
  tokenAttributeFor,
} from "./profile-item-tokens.js";
import { countersOf, type ReadCounters } from "./profile-item-writes.js";
import type { TokenCipher } from "./token-cipher.js";
import { profileItemKey } from "./token-table.js";

interface ReadBasis {
  readonly counters: ReadCounters;
  readonly ttl?: number;
}

/** The {@link ProfileStore} on one DynamoDB item per profile. */
export class DynamoDbProfileStore implements ProfileStore {
  readonly #table: ItemTable;
  readonly #now: () => number;
  readonly #reads = new WeakMap<RecordRead, ReadBasis>();

  constructor(
    client: DynamoDBClient,
    tableName: string,
    cipher: TokenCipher,
    logger: Logger,
    now: () => number = Date.now,
  ) {
    this.#table = { client, tableName, cipher, logger };
    this.#now = now;
  }

  async read(profile: string): Promise<RecordRead> {
    const item = await getItem(this.#table, profile);
    const decoded = decodeItem(item);
    const bounded = believable(decoded.record, this.#now());
    const edits = [...decoded.edits, ...bounded.edits];
    if (edits.length > 0) {
      this.#table.logger.warn(
        "profile item was edited outside the function; edited parts are misses",
        { profile, edited: edits.slice(0, 8) },
      );
    }
    const place = this.#place(profile);
    const { incarnation } = bounded.record;
    const sets = new Map<string, SetEntry<StoredToken>>();
    for (const [tag, { token, ...rest }] of bounded.record.sets) {
      const stored = token && { ...token, token: new SealedToken(place, tag, token, incarnation) };
      sets.set(tag, stored ? { ...rest, token: stored } : rest);
    }
    const read: RecordRead = { record: { ...bounded.record, sets } };
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
    // The core names a new item's incarnation; a record is never written without one.
    const incarnation = next.incarnation ?? read.record.incarnation ?? newIncarnation();
    const tokens = new Map<string, AttributeValue>();
    try {
      for (const [tag, entry] of next.sets) {
        if (!entry.token) continue;
        const attribute = await tokenAttributeFor(place, tag, entry.token, incarnation);
        if (attribute) tokens.set(tag, attribute);
      }
    } catch (error) {
      // Sealing needs a data key (KMS): without one, the cache cannot take the write.
      throw unavailable("write (sealing)", error);
    }
    const item = encodeItem({
      key: place.itemKey,
      incarnation,
      version: read.record.version + 1,
      record: next,
      tokens,
      ttl: this.#ttlAfterWrite(next, basis),
    });
    return putIfUnchanged(this.#table, item, basis.counters, "write");
  }

  delete(profile: string, now: number): Promise<DeletedRecord> {
    return deleteItem(this.#table, profile, now);
  }

  fresh(_profile: string, tag: string, token: CachedToken, stamp: TokenStamp): StoredToken {
    return new FreshToken(tag, token, stamp);
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
    const { cipher, logger } = this.#table;
    return { cipher, logger, profile, itemKey: profileItemKey(profile) };
  }
}
