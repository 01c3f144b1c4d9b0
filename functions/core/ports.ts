/**
 * What the core needs from the outside world. Adapters implement these; tests pass fakes.
 * Nothing here names an AWS SDK type.
 */
import type { MetricName } from "./metrics.js";
import type { ClientAuth } from "./profiles.js";
import type { CachedToken, TokenGrant } from "./token.js";

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

/** What the table holds for a profile. */
export interface StoredItem {
  /** The profile's token, when the item holds one this code can open. */
  readonly token?: CachedToken;
  /** When a `DELETE` emptied the item (epoch ms), until a token written after it replaces it. */
  readonly deletedAt?: number;
}

/** What a token's write is weighed against, besides the stored item. */
export interface WriteBasis {
  /**
   * When the credentials the token was obtained with were last read from the secret (epoch ms).
   * Credentials read before a `DELETE` may be of the identity it was meant to drop.
   */
  readonly credentialsReadAt: number;
  /**
   * The `DELETE` record the refresh read, as it read it (see `deletion-record.ts`): the write may
   * replace exactly that record, whatever its time. Any other record refuses it.
   */
  readonly deletionRead?: number;
}

/** The shared token cache (DynamoDB): one token item and one refresh lease per profile. */
export interface TokenStore {
  /** A strongly consistent read; the caller checks expiry itself. */
  get(profile: string): Promise<StoredItem>;
  /**
   * Stores the token unless
   * - the item records a `DELETE` other than `basis.deletionRead`, whatever its time: the refresh
   *   did not see it, so the token may be of the identity that `DELETE` was meant to drop (and no
   *   writer's clock can tell a genuine time from an edit: the writer may have been frozen);
   * - the stored token is of the same identity and was issued at the same time or later, so a
   *   slow or thawed writer never replaces a fresher token (ordered by issue time, not expiry:
   *   when a tenant shortens lifetimes, the newer, shorter token must win);
   * - the stored token is of another identity and was issued at or after
   *   `basis.credentialsReadAt`: whoever wrote it read their credentials later than ours.
   * @returns whether the token was stored.
   */
  put(profile: string, token: CachedToken, basis: WriteBasis): Promise<boolean>;
  /**
   * Replaces the profile's token with the record of a `DELETE` made at `at` (epoch ms).
   * @returns the token deleted, when the item held a usable one.
   */
  delete(profile: string, at: number): Promise<CachedToken | undefined>;
  /**
   * Takes the profile's refresh lease until `until` (epoch ms), unless another owner holds one that
   * has not expired at `now`. Only the holder asks CyberArk, so instances do not stampede it.
   * @returns whether `owner` now holds the lease.
   */
  acquireLease(profile: string, owner: string, now: number, until: number): Promise<boolean>;
  /** Gives the lease back if `owner` still holds it. */
  releaseLease(profile: string, owner: string): Promise<void>;
  /**
   * Records that CyberArk asked for no token request of the profile until `until` (epoch ms), so
   * every instance holds back, not only the one that was told. A later end never shortens.
   */
  putBackOff(profile: string, until: number): Promise<void>;
  /** The end of the profile's recorded back-off (epoch ms), if one was recorded. */
  getBackOff(profile: string): Promise<number | undefined>;
}

/** One `client_credentials` request to a CyberArk Identity tenant. */
export interface TokenRequest {
  readonly tenantUrl: string;
  /** `/oauth2/platformtoken` or `/oauth2/token/{applicationId}`. */
  readonly path: string;
  readonly clientAuth: ClientAuth;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
}

/** One token revocation at a CyberArk Identity tenant (RFC 7009). */
export interface RevocationRequest {
  readonly tenantUrl: string;
  /** `/oauth2/revoke/{applicationId}`: see `revocationEndpointPath`. */
  readonly path: string;
  /** Sent exactly as for the token request. */
  readonly clientAuth: ClientAuth;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The access token to revoke. */
  readonly token: string;
}

/** CyberArk Identity's token and revocation endpoints. */
export interface IdentityProvider {
  /**
   * @throws {UpstreamRejectedError} on a 4xx other than 429.
   * @throws {UpstreamUnavailableError} on timeouts, resets, 429, 5xx or an unusable body, after
   * retries; with `backOffSeconds` when CyberArk asked for a pause (`Retry-After`).
   */
  requestToken(request: TokenRequest): Promise<TokenGrant>;
  /**
   * Revokes a token, in exactly one attempt (the caller decides whether to try again). Succeeds
   * for a token the tenant does not know.
   * @throws {UpstreamRejectedError} on a 4xx other than 429, with CyberArk's OAuth2 error code.
   * @throws {UpstreamUnavailableError} on a timeout, a reset, 429 or 5xx.
   */
  revokeToken(request: RevocationRequest): Promise<void>;
}

/** Where the core reports trouble it recovers from. Powertools' Logger fits. */
export interface Logger {
  warn(message: string, attributes: Record<string, unknown>): void;
}

/**
 * Where the core counts what it does (CloudWatch Embedded Metric Format in the function). Every
 * metric carries the profile; `dimension` is the value of the metric's one extra dimension, for
 * the metrics that have one (see `metrics.ts`). Never a token, a secret or a caller ARN.
 */
export interface Metrics {
  add(metric: MetricName, profile: string, value: number, dimension?: string): void;
}

/** Metrics that go nowhere, for tests and tools that do not look at them. */
export const NO_METRICS: Metrics = { add: () => {} };
