/**
 * The token table's schema: the one definition the CDK stack and the local server's table
 * creation both use, so they cannot drift; and its item keys.
 *
 * Per profile: its own item (`sets#`: the last `DELETE`'s record and the places of its live scope
 * sets) and a back-off item. Per scope set: a token item and a lease item. The empty set keeps the
 * keys a profile's items had before scope sets (`token#<profile>`); any other set is named by a
 * fixed-length digest, so a key stays bounded whatever the ask.
 */
import { createHash } from "node:crypto";
import { NO_SCOPES, type ScopeSet } from "../core/scope-set.js";

/** Key schema and TTL attribute of the token table. */
export const TOKEN_TABLE_SCHEMA = {
  /** String partition key; the table has no sort key. */
  partitionKey: "pk",
  /** Epoch seconds after which DynamoDB may delete the item (it does so late; reads check). */
  timeToLiveAttribute: "ttl",
} as const;

/** The tag of the empty scope set in a profile item's places. */
const EMPTY_SET_TAG = "-";
const DIGEST_TAG = /^[A-Za-z0-9_-]{43}$/;

/** The name of a scope set in item keys and in the profile item's places: a SHA-256 digest. */
export function setTag(set: ScopeSet): string {
  if (set === NO_SCOPES) return EMPTY_SET_TAG;
  return createHash("sha256").update(set).digest("base64url");
}

/** Whether `tag` is one {@link setTag} can make (anything else in a place is an edit). */
export function isSetTag(tag: string): boolean {
  return tag === EMPTY_SET_TAG || DIGEST_TAG.test(tag);
}

function suffix(tag: string): string {
  return tag === EMPTY_SET_TAG ? "" : `#${tag}`;
}

/** The partition key of a scope set's token item. */
export function tokenItemKey(profile: string, set: ScopeSet): string {
  return tokenItemKeyOfTag(profile, setTag(set));
}

/** The partition key of the token item of the set tagged `tag` ({@link setTag}). */
export function tokenItemKeyOfTag(profile: string, tag: string): string {
  return `token#${profile}${suffix(tag)}`;
}

/** The partition key of a scope set's refresh lease item. */
export function leaseItemKey(profile: string, set: ScopeSet): string {
  return `lease#${profile}${suffix(setTag(set))}`;
}

/** The partition key of a profile's own item: its `DELETE` record and its live sets' places. */
export function profileItemKey(profile: string): string {
  return `sets#${profile}`;
}

/** The partition key of a profile's back-off item: when CyberArk may be asked again. */
export function backOffItemKey(profile: string): string {
  return `backoff#${profile}`;
}
