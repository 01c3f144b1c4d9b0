/**
 * A `DELETE` of a profile's item: ONE `UpdateItem` with no condition on what was read (`epoch + 1`,
 * `version + 1`, every token and place removed, leases and back-off kept), answering the item as
 * it was: the epoch it ends, the incarnation, and the tokens it dropped (to revoke). DELETEs never
 * tie and need no rounds.
 *
 * Its one condition is that the counters it adds to are numbers this code could have written. An
 * item edited so that they are not (a table writer's doing) is replaced, iff still the one read, by
 * a clean item under a new incarnation, without tokens or places; that `DELETE` answers epoch 0 of
 * the new incarnation, so every ledger entry of the item's earlier lives is revocable.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DeletedRecord } from "../core/ports.js";
import { deleteTokens } from "../core/profile-record.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../core/timing.js";
import type { CachedToken } from "../core/token.js";
import { ATTRIBUTES, decodeItem, encodeItem } from "./profile-item-codec.js";
import {
  getItem,
  type ItemTable,
  newIncarnation,
  putIfUnchanged,
  unavailable,
} from "./profile-item-table.js";
import { sealedOf } from "./profile-item-tokens.js";
import { countersOf, deletion } from "./profile-item-writes.js";
import { openToken } from "./sealed-token-record.js";
import { isSetTag, profileItemKey } from "./token-table.js";

/**
 * How long an item outlives the last `DELETE` at least: longer than the leases and back-off it
 * keeps, and longer than any `DELETE`'s own read of the ledger, so no incarnation ends while a
 * `DELETE` of it still decides by it.
 */
export const DELETE_KEPT_MS = MAX_BACK_OFF_MS + LEASE_MS;
// A DELETE that meets an item edited out of shape cleans it and goes again, a bounded number of times.
const DELETE_ATTEMPTS = 3;

/** The `DELETE` write of `profile`'s item at `now`. */
export async function deleteItem(
  table: ItemTable,
  profile: string,
  now: number,
): Promise<DeletedRecord> {
  const itemKey = profileItemKey(profile);
  const ttl = Math.ceil((now + DELETE_KEPT_MS) / 1000);
  for (let attempt = 1; attempt <= DELETE_ATTEMPTS; attempt += 1) {
    const fresh = newIncarnation();
    let old: Record<string, AttributeValue> | undefined;
    try {
      const input = deletion(table.tableName, itemKey, fresh, ttl);
      old = (await table.client.send(new UpdateItemCommand(input))).Attributes;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw unavailable("delete", error);
      const cleaned = await cleanDeletion(table, profile, ttl);
      if (cleaned) return cleaned;
      continue;
    }
    const decoded = decodeItem(old);
    if (!decoded.countersIntact) {
      // Counters of a shape this code never writes (a fraction): the write landed, but its epoch
      // means nothing. Replace the item under a new incarnation, as for any other such edit.
      const cleaned = await cleanDeletion(table, profile, ttl, old);
      if (cleaned) return cleaned;
      continue;
    }
    return {
      incarnation: decoded.record.incarnation ?? fresh,
      epoch: decoded.record.epoch,
      dropped: await openDropped(table, profile, old),
    };
  }
  throw unavailable("delete", new Error("the profile's item kept changing shape"));
}

// `undefined`: the item is not (or no longer) out of shape, or changed meanwhile: go again.
async function cleanDeletion(
  table: ItemTable,
  profile: string,
  ttl: number,
  dropped?: Record<string, AttributeValue>,
): Promise<DeletedRecord | undefined> {
  const item = await getItem(table, profile);
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
  if (!(await putIfUnchanged(table, clean, countersOf(item), "delete"))) return undefined;
  table.logger.warn("profile item was edited out of shape; the DELETE replaced it", { profile });
  const opened = await Promise.all([
    openDropped(table, profile, item),
    dropped ? openDropped(table, profile, dropped) : [],
  ]);
  return { incarnation, epoch: 0, dropped: opened.flat() };
}

// Every token the item held that opens, whatever its epoch or hints: all are to be revoked.
async function openDropped(
  table: ItemTable,
  profile: string,
  item: Record<string, AttributeValue> | undefined,
): Promise<CachedToken[]> {
  const itemKey = profileItemKey(profile);
  const entries = Object.entries(item?.[ATTRIBUTES.tokens]?.M ?? {});
  const opened = await Promise.all(
    entries.map(async ([tag, value]) => {
      const sealed = sealedOf(value);
      if (!isSetTag(tag) || sealed === undefined) return undefined;
      return openToken(table.cipher, itemKey, tag, sealed).catch(() => undefined);
    }),
  );
  const tokens = opened.flatMap((token) => (token ? [token.token] : []));
  const unopened = entries.length - tokens.length;
  if (unopened > 0) {
    table.logger.warn("tokens the DELETE dropped do not open; they cannot be revoked", {
      profile,
      unopened,
    });
  }
  return tokens;
}
