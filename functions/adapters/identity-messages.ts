/**
 * What travels to and from a CyberArk Identity tenant, as data: the client's authentication, a
 * capped body read, and the parsing of token responses and OAuth2 errors. The
 * client (`cyberark-identity.ts`) decides what to send and when to retry (with `Retry-After` and
 * the back-off of `common/backoff.ts`).
 */

import { isB64Token, NOT_A_B64TOKEN } from "../common/b64token.js";
import type { TokenRequest } from "../core/ports.js";
import type { TokenGrant } from "../core/token.js";

/** What identifies and authenticates the client, for either endpoint. */
export type ClientRequest = Pick<
  TokenRequest,
  "endpoint" | "clientAuth" | "clientId" | "clientSecret"
>;

/** Outcome of one attempt that may be worth another. */
export class RetryableFailure extends Error {
  readonly retryAfterMs: number | undefined;
  /** How the attempt failed, carried to the error the core sees (never read from the text). */
  readonly kind: "timeout" | "failed" | "unusable";
  constructor(detail: string, options: RetryableFailureOptions = {}) {
    super(detail, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.kind = options.kind ?? "failed";
  }
}

/** Options of {@link RetryableFailure}. */
export interface RetryableFailureOptions {
  /** The tenant's `Retry-After`, in milliseconds. */
  readonly retryAfterMs?: number | undefined;
  /** @default "failed" */
  readonly kind?: "timeout" | "failed" | "unusable";
  readonly cause?: unknown;
}

const UNUSABLE = { kind: "unusable" } as const;

/** The largest upstream body read; a token response is a few KiB. */
const MAX_BODY_BYTES = 64 * 1024;
const OAUTH_ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/**
 * Adds the client's authentication, the same for every endpoint: HTTP Basic, or `client_id` and
 * `client_secret` in the form.
 */
export function authenticate(
  request: ClientRequest,
  headers: Record<string, string>,
  form: URLSearchParams,
): void {
  if (request.clientAuth === "basic") {
    // RFC 6749 section 2.3.1: each part form-urlencoded before Base64, so `+`, `%` and `:` survive.
    const pair = `${formEncode(request.clientId)}:${formEncode(request.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
  } else {
    form.set("client_id", request.clientId);
    form.set("client_secret", request.clientSecret);
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * The body as UTF-8, read chunk by chunk and abandoned past {@link MAX_BODY_BYTES}: cancelling
 * the stream closes the connection, so the rest is never received.
 * @throws {RetryableFailure} when the body is too large.
 */
export async function readCapped(response: Response): Promise<string> {
  const tooLarge = () =>
    new RetryableFailure(`response body exceeds ${MAX_BODY_BYTES} bytes`, UNUSABLE);
  if (Number(response.headers.get("content-length")) > MAX_BODY_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Checks a `200` answer and extracts the grant.
 * @throws {RetryableFailure} when the body is not a usable token response.
 */
export function parseGrant(contentType: string | null, body: string): TokenGrant {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json")
    throw new RetryableFailure("token response is not JSON", UNUSABLE);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new RetryableFailure("token response is not valid JSON", UNUSABLE);
  }
  if (typeof value !== "object" || value === null)
    throw new RetryableFailure("token response is not an object", UNUSABLE);
  const fields = value as Record<string, unknown>;
  if (typeof fields.access_token !== "string" || fields.access_token.length === 0) {
    throw new RetryableFailure("token response has no access_token", UNUSABLE);
  }
  // An RFC 6750 b64token, as a bearer token must be: anything else (shell syntax, quotes, line
  // breaks) would reach callers' shells, logs and headers. The message never holds the token.
  if (!isB64Token(fields.access_token)) {
    throw new RetryableFailure(`token response is unusable: ${NOT_A_B64TOKEN}`, UNUSABLE);
  }
  if (typeof fields.token_type !== "string" || fields.token_type.toLowerCase() !== "bearer") {
    throw new RetryableFailure("token response is not a Bearer token", UNUSABLE);
  }
  return {
    accessToken: fields.access_token,
    expiresIn: fields.expires_in,
    ...grantedScopeOf(fields),
  };
}

/**
 * The grant's `scope`, a space-separated string (RFC 6749 section 5.1), or none when the answer
 * has no `scope` field. Any other type (a list, an object, a number, `null`) is unusable rather
 * than ignored: ignored, an answer naming a broader grant would count as naming none and be
 * served to a caller whose ceiling is narrower. A profile's `tenantUrl` may be any https origin,
 * so the shape is checked whoever answers.
 * @throws {RetryableFailure} for a `scope` that is not a string.
 */
function grantedScopeOf(fields: Record<string, unknown>): { scope?: string } {
  if (!Object.hasOwn(fields, "scope")) return {};
  if (typeof fields.scope !== "string") {
    throw new RetryableFailure(
      `token response is unusable: its scope is ${describeType(fields.scope)}, not a string`,
      UNUSABLE,
    );
  }
  return { scope: fields.scope };
}

// The JSON type of a value, for a message: never the value itself.
function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

// Only a well-formed OAuth2 error code is kept; free text from upstream never travels on.
export function oauthErrorCode(body: string): string | undefined {
  try {
    const value: unknown = JSON.parse(body);
    const code = (value as { error?: unknown } | null)?.error;
    return typeof code === "string" && OAUTH_ERROR_CODE.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
