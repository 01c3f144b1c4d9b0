/**
 * A profile's item in the token table, as attributes: the one item that holds the profile's whole
 * shared record (`core/profile-record.ts`). Pure: no I/O and no keys here; the store
 * (`dynamodb-profile-store.ts`) seals and opens the tokens.
 *
 * | attribute | type | meaning |
 * | --- | --- | --- |
 * | `pk` | S | `profile#<name>` |
 * | `incarnation` | S | which life of the item this is (random, set when the item is created) |
 * | `version` | N | +1 on every write |
 * | `epoch` | N | +1 on every `DELETE`; absent = 0 |
 * | `backOffUntil` | N | epoch ms; absent = 0 |
 * | `tokens` | M | set tag -> M { `sealed` S, `epoch` N, `expiresAt` N } |
 * | `places` | M | set tag -> M { `caller` S, `until` N } |
 * | `leases` | M | set tag -> M { `owner` S, `until` N } |
 * | `ttl` | N | epoch seconds: when nothing in the item lives any more |
 *
 * Reading never throws: anything of the wrong type or shape is reported as an edit and left out of
 * the record (a token then is a miss, a lease or place is free), so no edit of the table can crash
 * a read or lock a set out. The write that follows replaces the whole item with a clean one.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { Lease, Place, ProfileRecord, SetEntry, TokenEntry } from "../core/profile-record.js";
import { isSetTag, TOKEN_TABLE_SCHEMA } from "./token-table.js";

/** The attribute names of a profile's item. */
export const ATTRIBUTES = {
  key: TOKEN_TABLE_SCHEMA.partitionKey,
  incarnation: "incarnation",
  version: "version",
  epoch: "epoch",
  backOffUntil: "backOffUntil",
  tokens: "tokens",
  places: "places",
  leases: "leases",
  ttl: TOKEN_TABLE_SCHEMA.timeToLiveAttribute,
} as const;

/** The fields of a token entry. */
export const TOKEN_FIELDS = { sealed: "sealed", epoch: "epoch", expiresAt: "expiresAt" } as const;

/** A token entry as the item holds it: sealed, with its plaintext hints. */
export interface ItemToken {
  readonly sealed: string;
  /** The attribute exactly as read: written back untouched when the set is not rewritten. */
  readonly attribute: AttributeValue;
}

/** An item read back. */
export interface DecodedItem {
  readonly exists: boolean;
  /**
   * Whether `incarnation`, `version` and `epoch` are as this code writes them. When not, the
   * record shows no incarnation and no token (nothing can be served from it), and the next write
   * replaces the item under a new incarnation.
   */
  readonly countersIntact: boolean;
  /** The record; its tokens' `epoch` and `expiresAt` are the plaintext hints (checked on open). */
  readonly record: ProfileRecord<ItemToken>;
  /** The item's `ttl` (epoch s), when it is a number. */
  readonly ttl?: number;
  /** What was left out as edited (attribute paths), for the log. */
  readonly edits: readonly string[];
}

/** A count or a time as this code writes them: a non-negative safe integer. */
export function wholeNumber(value: AttributeValue | undefined): number | undefined {
  const text = value?.N;
  if (typeof text !== "string" || !/^\d{1,16}$/.test(text)) return undefined;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : undefined;
}

/** Reads an item (or its absence) into the record it holds; never throws. */
export function decodeItem(item: Record<string, AttributeValue> | undefined): DecodedItem {
  if (!item) {
    return {
      exists: false,
      countersIntact: true,
      record: { version: 0, epoch: 0, backOffUntil: 0, sets: new Map() },
      edits: [],
    };
  }
  const edits: string[] = [];
  const counter = (name: string): number | undefined => {
    if (item[name] === undefined) return 0;
    const value = wholeNumber(item[name]);
    if (value === undefined) edits.push(name);
    return value;
  };
  const incarnation = item[ATTRIBUTES.incarnation]?.S;
  if (incarnation === undefined || incarnation === "") edits.push(ATTRIBUTES.incarnation);
  const version = counter(ATTRIBUTES.version);
  const epoch = counter(ATTRIBUTES.epoch);
  const backOffUntil = counter(ATTRIBUTES.backOffUntil) ?? 0;
  const countersIntact =
    edits.length === 0 && version !== undefined && epoch !== undefined && !!incarnation;
  const sets = new Map<string, { token?: TokenEntry<ItemToken>; lease?: Lease; place?: Place }>();
  const entryOf = (tag: string) => {
    const entry = sets.get(tag) ?? {};
    sets.set(tag, entry);
    return entry;
  };
  for (const [tag, value] of entries(item, ATTRIBUTES.tokens, edits)) {
    const token = countersIntact ? tokenOf(value) : undefined;
    if (token) entryOf(tag).token = token;
    else if (countersIntact) edits.push(`${ATTRIBUTES.tokens}.${tag}`);
  }
  for (const [tag, value] of entries(item, ATTRIBUTES.leases, edits)) {
    const owner = value.M?.owner?.S;
    const until = wholeNumber(value.M?.until);
    if (owner !== undefined && until !== undefined) entryOf(tag).lease = { owner, until };
    else edits.push(`${ATTRIBUTES.leases}.${tag}`);
  }
  for (const [tag, value] of entries(item, ATTRIBUTES.places, edits)) {
    const caller = value.M?.caller?.S;
    const until = wholeNumber(value.M?.until);
    if (caller !== undefined && until !== undefined) entryOf(tag).place = { caller, until };
    else edits.push(`${ATTRIBUTES.places}.${tag}`);
  }
  const ttl = wholeNumber(item[ATTRIBUTES.ttl]);
  const record: ProfileRecord<ItemToken> = countersIntact
    ? { incarnation, version: version ?? 0, epoch: epoch ?? 0, backOffUntil, sets }
    : { version: 0, epoch: 0, backOffUntil, sets };
  return { exists: true, countersIntact, record, ...(ttl === undefined ? {} : { ttl }), edits };
}

// The entries of a map attribute under valid set tags; anything else is noted as an edit.
function entries(
  item: Record<string, AttributeValue>,
  name: string,
  edits: string[],
): [string, AttributeValue][] {
  const value = item[name];
  if (value === undefined) return [];
  if (value.M === undefined) {
    edits.push(name);
    return [];
  }
  return Object.entries(value.M).filter(([tag]) => {
    if (isSetTag(tag)) return true;
    edits.push(`${name}.?`);
    return false;
  });
}

function tokenOf(value: AttributeValue): TokenEntry<ItemToken> | undefined {
  const sealed = value.M?.[TOKEN_FIELDS.sealed]?.S;
  const epoch = wholeNumber(value.M?.[TOKEN_FIELDS.epoch]);
  const expiresAt = wholeNumber(value.M?.[TOKEN_FIELDS.expiresAt]);
  if (sealed === undefined || epoch === undefined || expiresAt === undefined) return undefined;
  return { epoch, expiresAt, token: { sealed, attribute: value } };
}

/** A token entry's attribute, for a token sealed now. */
export function tokenAttribute(sealed: string, epoch: number, expiresAt: number): AttributeValue {
  return {
    M: {
      [TOKEN_FIELDS.sealed]: { S: sealed },
      [TOKEN_FIELDS.epoch]: { N: String(epoch) },
      [TOKEN_FIELDS.expiresAt]: { N: String(expiresAt) },
    },
  };
}

/** What {@link encodeItem} writes. */
export interface ItemFields {
  readonly key: string;
  readonly incarnation: string;
  readonly version: number;
  /** The record; its tokens already as attributes (set tag -> token entry attribute). */
  readonly record: ProfileRecord<unknown>;
  readonly tokens: ReadonlyMap<string, AttributeValue>;
  /** Epoch seconds. */
  readonly ttl: number;
}

/** The whole item for a record. */
export function encodeItem(fields: ItemFields): Record<string, AttributeValue> {
  const { record } = fields;
  const leases: Record<string, AttributeValue> = {};
  const places: Record<string, AttributeValue> = {};
  for (const [tag, entry] of record.sets as ReadonlyMap<string, SetEntry<unknown>>) {
    if (entry.lease)
      leases[tag] = { M: { owner: { S: entry.lease.owner }, until: n(entry.lease.until) } };
    if (entry.place)
      places[tag] = { M: { caller: { S: entry.place.caller }, until: n(entry.place.until) } };
  }
  return {
    [ATTRIBUTES.key]: { S: fields.key },
    [ATTRIBUTES.incarnation]: { S: fields.incarnation },
    [ATTRIBUTES.version]: n(fields.version),
    [ATTRIBUTES.epoch]: n(record.epoch),
    [ATTRIBUTES.backOffUntil]: n(record.backOffUntil),
    [ATTRIBUTES.tokens]: { M: Object.fromEntries(fields.tokens) },
    [ATTRIBUTES.places]: { M: places },
    [ATTRIBUTES.leases]: { M: leases },
    [ATTRIBUTES.ttl]: n(fields.ttl),
  };
}

function n(value: number): AttributeValue {
  return { N: String(value) };
}
