/**
 * The token table's schema: the one definition the CDK stack and the local server's table
 * creation both use, so they cannot drift.
 */

/** Key schema and TTL attribute of the token table. */
export const TOKEN_TABLE_SCHEMA = {
  /** String partition key; the table has no sort key. */
  partitionKey: "pk",
  /** Epoch seconds after which DynamoDB may delete the item (it does so late; reads check). */
  timeToLiveAttribute: "ttl",
} as const;

/** The partition key of a profile's token item. */
export function tokenItemKey(profile: string): string {
  return `token#${profile}`;
}

/** The partition key of a profile's refresh lease item. */
export function leaseItemKey(profile: string): string {
  return `lease#${profile}`;
}

/** The partition key of a profile's back-off item: when CyberArk may be asked again. */
export function backOffItemKey(profile: string): string {
  return `backoff#${profile}`;
}
