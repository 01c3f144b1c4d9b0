/**
 * Token lifetimes and the cache decisions made on them.
 * Pure: every function takes the current time, so tests drive them with a fake clock.
 */
import { createHash } from "node:crypto";
import { decodeJwt } from "jose";
import { UpstreamUnavailableError } from "./errors.js";
import type { ScopeSet } from "./scope-set.js";

/** What CyberArk answered, already checked for an access token and a Bearer type. */
export interface TokenGrant {
  readonly accessToken: string;
  /** `expires_in` exactly as received: the lifetime rules decide whether it is usable. */
  readonly expiresIn: unknown;
  /** The response's own `scope`, never the requested one. */
  readonly scope?: string;
}

/** A token as both cache levels hold it. Times are epoch milliseconds. */
export interface CachedToken {
  /** {@link cacheKey} of the identity that obtained the token. */
  readonly cacheKey: string;
  readonly accessToken: string;
  readonly scope?: string;
  /** When the request that obtained the token was sent: lifetimes count from here. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/**
 * Turns a grant into a cacheable token. `expires_in` (a positive integer) wins; otherwise the
 * JWT `exp` claim; otherwise the response is unusable. Never cached past `issuedAt + expires_in`,
 * and a lifetime over {@link MAX_LIFETIME_SECONDS} counts as that.
 * @throws {UpstreamUnavailableError} when no lifetime can be derived or it has already ended.
 */
export function tokenFromGrant(grant: TokenGrant, cacheKey: string, issuedAt: number): CachedToken {
  const expiresAt = expiryOf(grant, issuedAt);
  if (expiresAt === undefined) {
    throw unusable("the identity provider sent a token without a usable expires_in or exp claim");
  }
  if (expiresAt <= issuedAt) {
    throw unusable("the identity provider sent a token that had already expired");
  }
  return {
    cacheKey,
    accessToken: grant.accessToken,
    ...(grant.scope === undefined ? {} : { scope: grant.scope }),
    issuedAt,
    expiresAt,
  };
}

const UNUSABLE_RETRY_AFTER_SECONDS = 30;

function unusable(detail: string): UpstreamUnavailableError {
  return new UpstreamUnavailableError({
    dependency: "identity",
    kind: "unusable",
    detail,
    retryAfterSeconds: UNUSABLE_RETRY_AFTER_SECONDS,
  });
}

/**
 * The longest lifetime counted, in seconds: 366 days. A tenant or proxy that sends a nonsense
 * lifetime (1e13 seconds is past the last date JavaScript can represent) gets this instead.
 */
export const MAX_LIFETIME_SECONDS = 366 * 24 * 3600;

function expiryOf(grant: TokenGrant, issuedAt: number): number | undefined {
  const latest = issuedAt + MAX_LIFETIME_SECONDS * 1000;
  const { expiresIn } = grant;
  if (typeof expiresIn === "number" && Number.isInteger(expiresIn) && expiresIn > 0) {
    return issuedAt + Math.min(expiresIn, MAX_LIFETIME_SECONDS) * 1000;
  }
  const exp = jwtExpiry(grant.accessToken);
  // Whole milliseconds: a fractional `exp` must not make an expiry the table cannot hold.
  return exp === undefined ? undefined : Math.min(Math.floor(exp * 1000), latest);
}

function jwtExpiry(accessToken: string): number | undefined {
  try {
    const { exp } = decodeJwt(accessToken);
    return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined; // Not a JWT: opaque tokens are fine when expires_in is given.
  }
}

/** The lifetime CyberArk granted, in seconds. */
export function grantedLifetimeSeconds(token: CachedToken): number {
  return Math.floor((token.expiresAt - token.issuedAt) / 1000);
}

/**
 * The `min_validity` actually applied: capped at half the granted lifetime, so a tenant that
 * grants short tokens is not asked for a new one on every request.
 */
export function effectiveMinValiditySeconds(token: CachedToken, requestedSeconds: number): number {
  return Math.min(requestedSeconds, Math.floor(grantedLifetimeSeconds(token) / 2));
}

/** Seconds until expiry, rounded down: never more than CyberArk granted. */
export function remainingSeconds(token: CachedToken, now: number): number {
  return Math.floor((token.expiresAt - now) / 1000);
}

/**
 * Whether the token may be returned to a caller asking for `minValiditySeconds`. A token always
 * needs at least one whole second left: one that expires before the caller can send it is useless.
 */
export function isUsable(token: CachedToken, now: number, minValiditySeconds: number): boolean {
  const required = Math.max(1, effectiveMinValiditySeconds(token, minValiditySeconds));
  return remainingSeconds(token, now) >= required;
}

/**
 * Whether a token that is still usable should be renewed ahead of need: once its remaining
 * lifetime falls under the (capped) `min_validity` plus a quarter of its lifetime. Renewing then,
 * in the background, means steady traffic never waits for CyberArk.
 */
export function isDueForRenewal(
  token: CachedToken,
  now: number,
  minValiditySeconds: number,
): boolean {
  const window =
    effectiveMinValiditySeconds(token, minValiditySeconds) + grantedLifetimeSeconds(token) / 4;
  return remainingSeconds(token, now) < window;
}

/**
 * The identity a token belongs to: tenant, application, client authentication, client id, the
 * scope set asked for and secret version. Editing a profile or rotating its secret changes the
 * key, so a token of the old identity is never served; and a token asked for one scope set is
 * never served for another.
 */
export function cacheKey(
  profile: {
    readonly tenantUrl: string;
    readonly applicationId?: string | undefined;
    readonly clientAuth: string;
  },
  credentials: { readonly clientId: string; readonly version: string },
  set: ScopeSet,
): string {
  const identity = [
    profile.tenantUrl,
    profile.applicationId ?? "",
    profile.clientAuth,
    credentials.clientId,
    set,
    credentials.version,
  ];
  return createHash("sha256").update(JSON.stringify(identity)).digest("base64url");
}

/** A SHA-256 prefix of the token for audit lines: enough to correlate, useless to an attacker. */
export function tokenFingerprint(accessToken: string): string {
  return createHash("sha256").update(accessToken).digest("hex").slice(0, 12);
}
