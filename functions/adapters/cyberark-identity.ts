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
 * carries it (`backOffSeconds`, at most `MAX_BACK_OFF_MS`) so the profile sends nothing until it has passed.
 *
 * Every attempt, retries included, is sent only after the request's `beforeAttempt` guard
 * allowed it: an instance frozen between attempts sends nothing once its lease has passed to
 * another, or a back-off was recorded meanwhile.
 */
import { fullJitterMs, parseRetryAfterMs } from "../common/backoff.js";
import {
  describeUnknown,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../core/errors.js";
import type {
  IdentityProvider,
  ProfileEndpoints,
  RevocationRequest,
  TokenRequest,
} from "../core/ports.js";
import type { Profile } from "../core/profiles.js";
import {
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
  MAX_BACK_OFF_MS,
} from "../core/timing.js";
import type { TokenGrant } from "../core/token.js";
import { cyberArkEndpoints } from "./cyberark-endpoints.js";
import {
  authenticate,
  type ClientRequest,
  oauthErrorCode,
  parseGrant,
  RetryableFailure,
  readCapped,
} from "./identity-messages.js";

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

/** One answer of the tenant, its body read within 64 KiB (see `readCapped`). */
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
const MAX_BACK_OFF_SECONDS = MAX_BACK_OFF_MS / 1000;

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

  endpoints(profile: Profile): ProfileEndpoints {
    return cyberArkEndpoints(profile);
  }

  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    let lastFailure: RetryableFailure | undefined;
    let attempts = 0;
    while (attempts < this.#maxAttempts) {
      if (lastFailure) await this.#sleep(this.#backoffMs(attempts + 1, lastFailure.retryAfterMs));
      attempts += 1;
      // The caller's guard (its lease, the back-off, the record's epoch) before EVERY attempt,
      // retries included. Nothing is awaited between its answer and the send, and a refusal
      // ends the request without sending.
      await request.beforeAttempt?.(attempts);
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
    // Attempt 2 (the first retry) waits up to BASE_BACKOFF_MS, attempt 3 up to twice that.
    return fullJitterMs(attempt - 1, BASE_BACKOFF_MS, this.#maxBackoffMs, this.#random);
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
      const response = await fetch(request.endpoint, {
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
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      throw new RetryableFailure(`request failed: ${networkReason(error)}`, {
        kind: timedOut ? "timeout" : "failed",
        cause: error,
      });
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
    throw new RetryableFailure(`CyberArk answered ${answer.status}`, {
      retryAfterMs: answer.retryAfterMs,
    });
  }
  if (answer.status >= 400)
    throw new UpstreamRejectedError({
      status: answer.status,
      oauthError: oauthErrorCode(answer.body),
    });
  return answer;
}

function unavailable(
  detail: string,
  failure: RetryableFailure | undefined,
): UpstreamUnavailableError {
  const asked = failure?.retryAfterMs === undefined ? 0 : Math.ceil(failure.retryAfterMs / 1000);
  const backOffSeconds = asked > 0 ? Math.min(asked, MAX_BACK_OFF_SECONDS) : undefined;
  return new UpstreamUnavailableError({
    dependency: "identity",
    kind: failure?.kind ?? "failed",
    detail: `${detail}: ${failure?.message ?? "unknown"}`,
    retryAfterSeconds: backOffSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    backOffSeconds,
    cause: failure,
  });
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timed out";
  const cause = error instanceof Error ? error.cause : undefined;
  return describeUnknown(cause ?? error);
}
