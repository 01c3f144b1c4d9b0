/**
 * The OAuth2 exchanges with a CyberArk Identity tenant: `client_credentials` token requests
 * and token revocation (RFC 7009), sharing one client authentication.
 *
 * Uses Node's built-in fetch: keep-alive connections, TLS trust through `NODE_EXTRA_CA_CERTS`,
 * nothing added to the bundle. Upstream bodies are read as a stream and cut off past 64 KiB (a
 * tenant or proxy gone wrong must not exhaust the function's memory), parsed defensively and
 * never passed on.
 *
 * Back-off: a `Retry-After` on a 429 or 503 is never cut short. One that fits the wait between
 * attempts (`maxBackoffMs`) is waited out; a longer one ends the request at once, and the error
 * carries it (`backOffSeconds`, at most 300) so the profile sends nothing until it has passed.
 */
import {
  describeUnknown,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../core/errors.js";
import type { IdentityProvider, RevocationRequest, TokenRequest } from "../core/ports.js";
import {
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
} from "../core/timing.js";
import type { TokenGrant } from "../core/token.js";

/** Tuning of {@link CyberArkIdentityClient}; the defaults are the timing budget's (`core/timing.ts`). */
export interface IdentityClientOptions {
  /** Per-attempt timeout, reading the body included. @default IDENTITY_ATTEMPT_TIMEOUT_MS */
  readonly attemptTimeoutMs?: number;
  /** Attempts in all for a token request, the first included. @default IDENTITY_MAX_ATTEMPTS */
  readonly maxAttempts?: number;
  /**
   * Upper bound of a wait between attempts; a longer `Retry-After` ends the request.
   * @default IDENTITY_MAX_BACKOFF_MS
   */
  readonly maxBackoffMs?: number;
  /** Waits between attempts; injected by tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Epoch milliseconds, for a `Retry-After` given as a date. @default Date.now */
  readonly now?: () => number;
}

/** Outcome of one attempt that may be worth another. */
class RetryableFailure extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(detail: string, retryAfterMs?: number, cause?: unknown) {
    super(detail, { cause });
    this.retryAfterMs = retryAfterMs;
  }
}

/** What identifies and authenticates the client, for either endpoint. */
type ClientRequest = Pick<
  TokenRequest,
  "tenantUrl" | "path" | "clientAuth" | "clientId" | "clientSecret"
>;

/** One answer of the tenant, its body read within {@link MAX_BODY_BYTES}. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** The `Retry-After` of a 429 or 503, in milliseconds. */
  readonly retryAfterMs: number | undefined;
}

const BASE_BACKOFF_MS = 100;
/** What our own `503` tells callers when CyberArk gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** The longest pause a tenant's `Retry-After` can impose on a profile. */
const MAX_BACK_OFF_SECONDS = 300;
/** The largest upstream body read; a token response is a few KiB. */
const MAX_BODY_BYTES = 64 * 1024;
const PRINTABLE_TOKEN = /^[\x21-\x7E]{1,16384}$/;
const OAUTH_ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** Requests and revokes tokens at CyberArk Identity. */
export class CyberArkIdentityClient implements IdentityProvider {
  readonly #attemptTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #maxBackoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(options: IdentityClientOptions = {}) {
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? IDENTITY_ATTEMPT_TIMEOUT_MS;
    this.#maxAttempts = options.maxAttempts ?? IDENTITY_MAX_ATTEMPTS;
    this.#maxBackoffMs = options.maxBackoffMs ?? IDENTITY_MAX_BACKOFF_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    let lastFailure: RetryableFailure | undefined;
    let attempts = 0;
    while (attempts < this.#maxAttempts) {
      if (lastFailure) await this.#sleep(this.#backoffMs(attempts + 1, lastFailure.retryAfterMs));
      attempts += 1;
      try {
        return await this.#attemptToken(request);
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        lastFailure = error;
        // The tenant wants a longer pause than a request can wait: retrying sooner is what it
        // asked us not to do.
        if ((error.retryAfterMs ?? 0) > this.#maxBackoffMs) break;
      }
    }
    throw unavailable(`CyberArk failed ${attempts} attempt(s)`, lastFailure);
  }

  async revokeToken(request: RevocationRequest): Promise<void> {
    try {
      accepted(await this.#post(request, new URLSearchParams({ token: request.token })));
    } catch (error) {
      if (error instanceof RetryableFailure) throw unavailable("revocation failed", error);
      throw error;
    }
  }

  // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), unless the tenant said
  // when to come back; either way capped, so retries stay inside the function's time budget.
  #backoffMs(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.#maxBackoffMs);
    // Attempt 2 waits up to BASE_BACKOFF_MS, attempt 3 up to twice that, and so on.
    const ceiling = Math.min(this.#maxBackoffMs, BASE_BACKOFF_MS * 2 ** (attempt - 2));
    return Math.floor(this.#random() * ceiling);
  }

  async #attemptToken(request: TokenRequest): Promise<TokenGrant> {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (request.scope !== undefined) form.set("scope", request.scope);
    const answer = accepted(await this.#post(request, form));
    if (answer.status !== 200) throw new RetryableFailure(`CyberArk answered ${answer.status}`);
    return parseGrant(answer.headers.get("content-type"), answer.body);
  }

  /** One authenticated form POST; every way it can fail is retryable. */
  async #post(request: ClientRequest, form: URLSearchParams): Promise<Answer> {
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    authenticate(request, headers, form);
    try {
      const response = await fetch(new URL(request.path, request.tenantUrl), {
        method: "POST",
        headers,
        body: form.toString(),
        redirect: "error",
        signal: AbortSignal.timeout(this.#attemptTimeoutMs),
      });
      const body = await readCapped(response);
      const retryAfterMs = RETRY_AFTER_STATUSES.has(response.status)
        ? parseRetryAfterMs(response.headers.get("retry-after"), this.#now())
        : undefined;
      return { status: response.status, headers: response.headers, body, retryAfterMs };
    } catch (error) {
      if (error instanceof RetryableFailure) throw error;
      // Timeouts, refused connections and resets (a tenant may close a kept-alive connection
      // between requests) are all worth another attempt.
      throw new RetryableFailure(`request failed: ${networkReason(error)}`, undefined, error);
    }
  }
}

/** Statuses whose `Retry-After` asks for a pause (RFC 9110 15.6.4, RFC 6585 4). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/**
 * Passes a 2xx or 3xx answer through.
 * @throws {RetryableFailure} on a 429 or 5xx.
 * @throws {UpstreamRejectedError} on another 4xx, with the OAuth2 code only.
 */
function accepted(answer: Answer): Answer {
  if (answer.status === 429 || answer.status >= 500) {
    throw new RetryableFailure(`CyberArk answered ${answer.status}`, answer.retryAfterMs);
  }
  if (answer.status >= 400)
    throw new UpstreamRejectedError(answer.status, oauthErrorCode(answer.body));
  return answer;
}

function unavailable(
  detail: string,
  failure: RetryableFailure | undefined,
): UpstreamUnavailableError {
  const asked = failure?.retryAfterMs === undefined ? 0 : Math.ceil(failure.retryAfterMs / 1000);
  const backOffSeconds = asked > 0 ? Math.min(asked, MAX_BACK_OFF_SECONDS) : undefined;
  return new UpstreamUnavailableError(
    `${detail}: ${failure?.message ?? "unknown"}`,
    backOffSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    failure,
    backOffSeconds,
  );
}

/**
 * Adds the client's authentication, the same for every endpoint: HTTP Basic, or `client_id` and
 * `client_secret` in the form.
 */
function authenticate(
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
async function readCapped(response: Response): Promise<string> {
  const tooLarge = () => new RetryableFailure(`response body exceeds ${MAX_BODY_BYTES} bytes`);
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
  // Printable ASCII without spaces, as every OAuth2 token is: a token with line breaks or
  // controls would reach callers' logs and shells as more than one line.
  if (!PRINTABLE_TOKEN.test(fields.access_token)) {
    throw new RetryableFailure("token response has an access_token with unprintable characters");
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

// RFC 9110: delay-seconds (digits, here with an optional fraction), or an HTTP date with its
// weekday. Anything else ("-5", "1e400") counts as no header rather than as a date or infinity.
const DELAY_SECONDS = /^\d{1,9}(\.\d{1,3})?$/;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function parseRetryAfterMs(header: string | null, now: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (DELAY_SECONDS.test(value)) return Number(value) * 1000;
  if (!HTTP_DATE.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timed out";
  const cause = error instanceof Error ? error.cause : undefined;
  return describeUnknown(cause ?? error);
}
