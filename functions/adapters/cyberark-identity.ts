/**
 * The OAuth2 `client_credentials` exchange with a CyberArk Identity tenant.
 *
 * Uses Node's built-in fetch: keep-alive connections, TLS trust through `NODE_EXTRA_CA_CERTS`,
 * nothing added to the bundle. Upstream bodies are parsed defensively and never passed on.
 */
import {
  describeUnknown,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../core/errors.js";
import type { IdentityProvider, TokenRequest } from "../core/ports.js";
import {
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
} from "../core/timing.js";
import type { TokenGrant } from "../core/token.js";

/** Tuning of {@link CyberArkIdentityClient}; the defaults are the timing budget's (`core/timing.ts`). */
export interface IdentityClientOptions {
  /** Per-attempt timeout. @default IDENTITY_ATTEMPT_TIMEOUT_MS */
  readonly attemptTimeoutMs?: number;
  /** Attempts in all, the first included. @default IDENTITY_MAX_ATTEMPTS */
  readonly maxAttempts?: number;
  /** Upper bound of a backoff wait, `Retry-After` included. @default IDENTITY_MAX_BACKOFF_MS */
  readonly maxBackoffMs?: number;
  /** Waits between attempts; injected by tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** Outcome of one attempt that may be worth another. */
class RetryableFailure extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(detail: string, retryAfterMs?: number, cause?: unknown) {
    super(detail, { cause });
    this.retryAfterMs = retryAfterMs;
  }
}

const BASE_BACKOFF_MS = 100;
/** What our own `503` tells callers when CyberArk gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;
const OAUTH_ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** Requests tokens from CyberArk Identity. */
export class CyberArkIdentityClient implements IdentityProvider {
  readonly #attemptTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #maxBackoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(options: IdentityClientOptions = {}) {
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? IDENTITY_ATTEMPT_TIMEOUT_MS;
    this.#maxAttempts = options.maxAttempts ?? IDENTITY_MAX_ATTEMPTS;
    this.#maxBackoffMs = options.maxBackoffMs ?? IDENTITY_MAX_BACKOFF_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    let lastFailure: RetryableFailure | undefined;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt += 1) {
      if (lastFailure) await this.#sleep(this.#backoffMs(attempt, lastFailure.retryAfterMs));
      try {
        return await this.#attempt(request);
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        lastFailure = error;
      }
    }
    const retryAfterSeconds = lastFailure?.retryAfterMs
      ? Math.min(Math.ceil(lastFailure.retryAfterMs / 1000), MAX_RETRY_AFTER_SECONDS)
      : DEFAULT_RETRY_AFTER_SECONDS;
    throw new UpstreamUnavailableError(
      `CyberArk failed ${this.#maxAttempts} attempts: ${lastFailure?.message ?? "unknown"}`,
      retryAfterSeconds,
      lastFailure,
    );
  }

  // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), unless the tenant said
  // when to come back; either way capped, so retries stay inside the function's time budget.
  #backoffMs(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.#maxBackoffMs);
    // Attempt 2 waits up to BASE_BACKOFF_MS, attempt 3 up to twice that, and so on.
    const ceiling = Math.min(this.#maxBackoffMs, BASE_BACKOFF_MS * 2 ** (attempt - 2));
    return Math.floor(this.#random() * ceiling);
  }

  async #attempt(request: TokenRequest): Promise<TokenGrant> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(new URL(request.path, request.tenantUrl), {
        method: "POST",
        headers: requestHeaders(request),
        body: requestBody(request),
        redirect: "error",
        signal: AbortSignal.timeout(this.#attemptTimeoutMs),
      });
      body = await response.text();
    } catch (error) {
      // Timeouts, refused connections and resets (a tenant may close a kept-alive connection
      // between requests) are all worth another attempt.
      throw new RetryableFailure(`request failed: ${networkReason(error)}`, undefined, error);
    }

    if (response.status === 429 || response.status >= 500) {
      throw new RetryableFailure(
        `CyberArk answered ${response.status}`,
        parseRetryAfterMs(response.headers.get("retry-after")),
      );
    }
    if (response.status >= 400) {
      throw new UpstreamRejectedError(response.status, oauthErrorCode(body));
    }
    if (response.status !== 200) throw new RetryableFailure(`CyberArk answered ${response.status}`);
    return parseGrant(response.headers.get("content-type"), body);
  }
}

function requestHeaders(request: TokenRequest): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (request.clientAuth === "basic") {
    // RFC 6749 section 2.3.1: each part form-urlencoded before Base64, so `+`, `%` and `:` survive.
    const pair = `${formEncode(request.clientId)}:${formEncode(request.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
  }
  return headers;
}

function requestBody(request: TokenRequest): string {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (request.clientAuth === "body") {
    form.set("client_id", request.clientId);
    form.set("client_secret", request.clientSecret);
  }
  if (request.scope !== undefined) form.set("scope", request.scope);
  return form.toString();
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * Checks a `200` answer and extracts the grant.
 * @throws {RetryableFailure} when the body is not a usable token response.
 */
function parseGrant(contentType: string | null, body: string): TokenGrant {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") throw new RetryableFailure("token response is not JSON");
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new RetryableFailure("token response is not valid JSON");
  }
  if (typeof value !== "object" || value === null)
    throw new RetryableFailure("token response is not an object");
  const fields = value as Record<string, unknown>;
  if (typeof fields.access_token !== "string" || fields.access_token.length === 0) {
    throw new RetryableFailure("token response has no access_token");
  }
  if (typeof fields.token_type !== "string" || fields.token_type.toLowerCase() !== "bearer") {
    throw new RetryableFailure("token response is not a Bearer token");
  }
  return {
    accessToken: fields.access_token,
    expiresIn: fields.expires_in,
    ...(typeof fields.scope === "string" ? { scope: fields.scope } : {}),
  };
}

// Only a well-formed OAuth2 error code is kept; free text from upstream never travels on.
function oauthErrorCode(body: string): string | undefined {
  try {
    const value: unknown = JSON.parse(body);
    const code = (value as { error?: unknown } | null)?.error;
    return typeof code === "string" && OAUTH_ERROR_CODE.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function parseRetryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timed out";
  const cause = error instanceof Error ? error.cause : undefined;
  return describeUnknown(cause ?? error);
}
