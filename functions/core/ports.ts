/**
 * What the core needs from the outside world. Adapters implement these; tests pass fakes.
 * Nothing here names an AWS SDK type.
 */
import type { MetricName } from "./metrics.js";
import type * as Shared from "./profile-record.js";
import type { ScopeSet } from "./scope-set.js";
import type { CachedToken, TokenGrant } from "./token.js";

/** How the client authenticates at CyberArk: in the form body, or with HTTP Basic. */
export type ClientAuth = "body" | "basic";

/** The credentials of one secret version. */
export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The secret's version ID: part of the cache key, so a rotation changes the key. */
  readonly version: string;
}

/** Where a profile's tenant and application are (what the endpoints are derived from). */
export interface ProfileLocation {
  readonly tenantUrl: string;
  readonly applicationId?: string | undefined;
}

/** The current time in epoch milliseconds. Injected so expiry is tested without sleeping. */
export interface Clock {
  now(): number;
}

/** The raw value of a secret. */
export interface SecretValue {
  readonly secretString: string | undefined;
  readonly versionId: string;
}

/** Secrets Manager, or anything that holds profile credentials. */
export interface SecretSource {
  /**
   * Reads the current version of a secret, bypassing any cache of its own.
   * @throws {ConfigurationError} when the secret is missing or unreadable.
   * @throws {UpstreamUnavailableError} when the source itself is failing.
   */
  read(secretId: string): Promise<SecretValue>;
}

/**
 * A token as a {@link ProfileStore}'s record holds it: sealed as read from the table (opened only
 * when needed, e.g. through KMS), or just obtained and not yet written. The core never sees the
 * ciphertext; a store writes back the tokens of other sets exactly as it read them.
 */
export interface StoredToken {
  /**
   * The token, when it opens and its sealed stamp agrees with the record that holds it: the same
   * set tag, `epoch`, `incarnation` and `expiresAt` (plaintext hints that differ mean an edited
   * entry). `undefined`: it does not open, or does not agree; it is then never served.
   * Never throws for a token that does not open; may throw when its key service fails.
   */
  open(): Promise<CachedToken | undefined>;
}

/**
 * A strongly consistent read of a profile's record, as {@link ProfileStore.read} answers it:
 * `emptyRecord()` (no `incarnation`) when there is no item; not pruned (the core prunes before
 * deciding). The store may keep in it what it needs for the conditional write (opaque here).
 */
export interface RecordRead {
  readonly record: Shared.ProfileRecord<StoredToken>;
}

/** What the `DELETE` write found, for its revocations. */
export interface DeletedRecord {
  /** The item's incarnation (the new one when the `DELETE` found no item). */
  readonly incarnation: string;
  /** The `epoch` before the `DELETE` (0 when there was no item); it is now one more. */
  readonly epoch: number;
  /** The tokens the write removed that opened (whatever their epoch or expiry). */
  readonly dropped: readonly CachedToken[];
}

/**
 * The shared cache (DynamoDB): ONE item per profile holding its whole shared state
 * (`profile-record.ts`: each set's token, lease and place, the back-off, `epoch`, `version`,
 * `incarnation`), changed only by single-item writes, without transactions.
 *
 * Contract (the in-memory store in `test/support` keeps exactly the same one):
 * - {@link read} is strongly consistent.
 * - {@link write} succeeds iff the item is still the one read: the same `incarnation` and
 *   `version` (or, when the read found no item, there is still none). It stores `next` whole, with
 *   `version = read.version + 1` and `incarnation = next.incarnation` (the read one; when the read
 *   found no item, a new random one the core chose, so the writer knows the life it created).
 *   Tokens are sealed for their set tag (AAD = profile + tag). TTL: `expiryOf(next)`, or the one the
 *   item had when later, capped at what a `DELETE` now would set (a write soon after a DELETE never
 *   lets the item vanish before that DELETE's keep). {@link delete} is unconditional: `epoch + 1`,
 *   `version + 1`, every token and place removed, leases and back-off kept; a missing item is
 *   created with a new incarnation; TTL at least `now + MAX_BACK_OFF_MS + LEASE_MS` (its keep).
 * - The item vanishes (TTL) only when nothing in it is live; then a read answers an empty record
 *   and the next writer makes a new incarnation, so a writer that read the old one is refused.
 */
export interface ProfileStore {
  /** Strongly consistent read of the profile's record (the empty record when there is no item). */
  read(profile: string): Promise<RecordRead>;
  /**
   * Writes `next` iff the item is still the one `read` saw (same incarnation and version, or
   * still no item).
   * @returns `false` when it is not (the writer lost a race: it reads again and decides again).
   * @throws when the table fails (the core fails open).
   */
  write(
    profile: string,
    read: RecordRead,
    next: Shared.ProfileRecord<StoredToken>,
  ): Promise<boolean>;
  /** The `DELETE` write: see the contract above. */
  delete(profile: string, now: number): Promise<DeletedRecord>;
  /**
   * The record's form of a token just obtained for the set tagged `tag`, stamped with the
   * `epoch` and `incarnation` its credentials were read under; sealed when it is written. Its
   * {@link StoredToken.open} answers `token` without any I/O.
   */
  fresh(profile: string, tag: string, token: CachedToken, stamp: TokenStamp): StoredToken;
}

/** Which life of a profile's record a token belongs to. */
export interface TokenStamp {
  readonly incarnation: string;
  readonly epoch: number;
}

/**
 * A token for the ledger ({@link IssuedTokenStore}), asked for the set `asked`. `expiresAt`: until
 * when CyberArk may honour it (epoch ms), counted from when its answer ARRIVED (errs long: for
 * revocation), not from when the request left (`token.expiresAt`, errs short: for serving).
 */
export interface LedgerEntry extends TokenStamp {
  readonly asked: ScopeSet;
  readonly token: CachedToken;
  readonly expiresAt: number;
}

/** A ledger entry as read back, with its `id` (no part of the token). */
export interface RememberedEntry extends LedgerEntry {
  readonly id: string;
}

/**
 * The ledger as a `DELETE` reads it: every entry that opened (expired ones included: the core
 * decides, and counts them), how many did not open (noted for the next `forget`), and how many
 * the read left unread past its bounded amount of work (default 0).
 */
export interface LedgerRead {
  readonly entries: readonly RememberedEntry[];
  readonly unopened: number;
  readonly pastBound?: number;
}

/**
 * The ledger of issued tokens (its own item, beside the profile's record): every token the
 * service obtained for a profile whose tokens CyberArk can revoke, remembered BEFORE the token's
 * conditional write, so a `DELETE` that reads it after its own write finds every token of an
 * earlier epoch that could still be written.
 */
export interface IssuedTokenStore {
  /**
   * Remembers `entry` until `entry.expiresAt`.
   * @returns `full` when the profile's ledger is at its bound: the entry is not remembered.
   */
  remember(profile: string, entry: LedgerEntry, now: number): Promise<"remembered" | "full">;
  /** Reads the profile's entries (a bounded amount of work, whatever the ledger holds). */
  live(profile: string, now: number): Promise<LedgerRead>;
  /**
   * Forgets the entries `ids` (revoked tokens), any it knows to have expired at `now`, and any
   * its last `live` found not to open.
   */
  forget(profile: string, ids: readonly string[], now: number): Promise<void>;
}

/** Where a profile's tokens are requested and revoked: absolute URLs. */
export interface ProfileEndpoints {
  /** The OAuth2 token endpoint. */
  readonly token: string;
  /** The RFC 7009 revocation endpoint; absent when the provider offers none for the profile. */
  readonly revocation?: string;
}

/** One `client_credentials` request to the identity provider. */
export interface TokenRequest {
  /** The profile's token endpoint (see {@link IdentityProvider.endpoints}). */
  readonly endpoint: string;
  readonly clientAuth: ClientAuth;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The scope set asked for; absent when it is empty. */
  readonly scope?: ScopeSet;
  /**
   * Asked before EVERY attempt (the first and each retry): it rechecks the set's lease, the
   * profile's back-off and the record's epoch, and throws (an `UpstreamUnavailableError`) to stop
   * without sending. The provider sends the attempt with no await between the guard's answer and
   * the send, and never sends one the guard refused.
   */
  readonly beforeAttempt?: (attempt: number) => Promise<void>;
}

/** One token revocation at the identity provider (RFC 7009). */
export interface RevocationRequest {
  /** The profile's revocation endpoint. */
  readonly endpoint: string;
  /** Sent exactly as for the token request. */
  readonly clientAuth: ClientAuth;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The access token to revoke. */
  readonly token: string;
}

/** The identity provider (CyberArk Identity): its token and revocation endpoints. */
export interface IdentityProvider {
  /** Where the profile's tokens are requested and revoked; the provider's URL layout is its own. */
  endpoints(profile: ProfileLocation): ProfileEndpoints;
  /**
   * @throws {UpstreamRejectedError} on a 4xx other than 429.
   * @throws {UpstreamUnavailableError} on timeouts, resets, 429, 5xx or an unusable body, after
   * retries; with `backOffSeconds` when the provider asked for a pause (`Retry-After`).
   */
  requestToken(request: TokenRequest): Promise<TokenGrant>;
  /**
   * Revokes a token, in exactly one attempt (the caller decides whether to try again). Succeeds
   * for a token the tenant does not know.
   * @throws {UpstreamRejectedError} on a 4xx other than 429, with the provider's OAuth2 error code.
   * @throws {UpstreamUnavailableError} on a timeout, a reset, 429 or 5xx.
   */
  revokeToken(request: RevocationRequest): Promise<void>;
}

/** Where the core reports trouble it recovers from. Powertools' Logger fits. */
export interface Logger {
  warn(message: string, attributes: Record<string, unknown>): void;
}

/**
 * Where the core counts what it does (CloudWatch EMF in the function), per profile; `dimension`:
 * the metric's one extra dimension's value, if it has one (`metrics.ts`). Never a token or an ARN.
 */
export interface Metrics {
  add(metric: MetricName, profile: string, value: number, dimension?: string): void;
}

/** Metrics that go nowhere, for tests and tools that do not look at them. */
export const NO_METRICS: Metrics = { add: () => {} };
