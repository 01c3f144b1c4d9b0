/**
 * The token table's schema: the one definition the CDK stack and the local server's table
 * creation both use, so they cannot drift; and its item keys.
 *
 * Per profile two items: its record (`profile#<name>`: every scope set's token, lease and place,
 * the back-off and the `DELETE` counter; see `profile-item-codec.ts`) and its ledger of issued
 * tokens (`issued#<name>`; see `dynamodb-issued-tokens.ts`).
 */

/** Key schema and TTL attribute of the token table. */
export const TOKEN_TABLE_SCHEMA = {
  /** String partition key; the table has no sort key. */
  partitionKey: "pk",
  /** Epoch seconds after which DynamoDB may delete the item (it does so late; reads check). */
  timeToLiveAttribute: "ttl",
} as const;

// The tags `setTag` (core/scope-set.ts) makes: "-" for the empty set, else a SHA-256 digest.
const SET_TAG = /^(-|[A-Za-z0-9_-]{43})$/;

/** Whether `tag` is one `setTag` can make (anything else in an item is an edit). */
export function isSetTag(tag: string): boolean {
  return SET_TAG.test(tag);
}

/** The partition key of a profile's item: its whole shared record. */
export function profileItemKey(profile: string): string {
  return `profile#${profile}`;
}
