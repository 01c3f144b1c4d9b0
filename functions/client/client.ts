/**
 * `TokenVendingClient`: the callers' side of the API. Signs with the default AWS
 * credential chain, reuses a token until it falls below `minValidity`, shares one request among
 * concurrent callers, and retries `503` within a bounded time.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { TokenResponse } from "../common/api.js";
import { localServerHeaders } from "../common/local-secret.js";
import { SingleFlight } from "../common/single-flight.js";
import { isLoopback, parseApiUrl } from "./api-url.js";
import { regionFor, signRequest } from "./signing.js";

export type { TokenResponse };

/**
 * A failed request: the service's `error` code, `network_error` when there was no answer, or
 * `credentials_error` when no AWS credentials could be found to sign a request to a remote API.
 */
export class TokenVendingError extends Error {
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The contract's `error` code, e.g. `access_denied`, `upstream_unavailable`. */
  readonly error: string;
  /** The service's `request_id`, when it sent one. */
  readonly requestId: string | undefined;
  /** The service's one-sentence `error_description`. */
  readonly description: string;

  constructor(
    status: number,
    error: string,
    description: string,
    requestId?: string,
    cause?: unknown,
  ) {
    super(`${error}: ${description}`, { cause });
    this.name = "TokenVendingError";
    this.status = status;
    this.error = error;
    this.description = description;
    this.requestId = requestId;
  }
}

/** Options of {@link TokenVendingClient}. */
export interface TokenVendingClientOptions {
  /**
   * The API's base URL as the stack outputs it (stage included), or the local server's: `https://`,
   * or `http://` only for 127.0.0.1, localhost and [::1].
   */
  readonly url: string;
  /** Region to sign for. @default from the URL, else AWS_REGION */
  readonly region?: string;
  /** @default the default AWS credential chain (environment, SSO, profiles, web identity, IMDS, ECS) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Longest time spent retrying `503` answers. @default 30000 */
  readonly maxRetryTimeMs?: number;
  /** Injected by tests. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Epoch milliseconds; injected by tests. @default Date.now */
  readonly now?: () => number;
  /** Injected by tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Options of {@link TokenVendingClient.getToken}. */
export interface GetTokenOptions {
  /** Seconds the token must stay valid. @default 300 */
  readonly minValidity?: number;
}

interface Held {
  readonly body: TokenResponse;
  /** Epoch ms, from `expires_in` at receipt. */
  readonly expiresAt: number;
}

const DEFAULT_MIN_VALIDITY = 300;
const MAX_RETRIES = 4;

/**
 * Gets tokens from the token-vending API. One instance per process; it is safe to share.
 * @throws {InvalidApiUrlError} from the constructor, for a URL that is neither `https://` nor
 *   `http://` on a loopback host.
 */
export class TokenVendingClient {
  readonly #base: URL;
  readonly #region: string;
  readonly #credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly #maxRetryTimeMs: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #held = new Map<string, Held>();
  readonly #inFlight = new SingleFlight<string, Held>();

  constructor(options: TokenVendingClientOptions) {
    const url = parseApiUrl(options.url);
    if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`;
    this.#base = url;
    this.#region = regionFor(this.#base, options.region);
    this.#credentials = options.credentials ?? defaultProvider();
    this.#maxRetryTimeMs = options.maxRetryTimeMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * The profile's token, valid for at least `minValidity` seconds: the one held in memory while it
   * is, else a new answer from the service (shared by concurrent callers).
   * @throws {TokenVendingError} carrying `status`, `error` and `requestId`.
   */
  async getToken(profile: string, options: GetTokenOptions = {}): Promise<TokenResponse> {
    const minValidity = options.minValidity ?? DEFAULT_MIN_VALIDITY;
    const held = this.#held.get(profile);
    if (held && this.#validFor(held, minValidity)) return this.#withRemaining(held);

    let fetched = await this.#fetchOnce(profile, minValidity);
    // A shared request made for a smaller minValidity may not satisfy this caller.
    if (!this.#validFor(fetched, minValidity))
      fetched = await this.#fetchOnce(profile, minValidity);
    return this.#withRemaining(fetched);
  }

  #validFor(held: Held, minValidity: number): boolean {
    return held.expiresAt - this.#now() >= Math.max(1, minValidity) * 1000;
  }

  // `expires_in` counts from the moment the body is returned, not from when the service sent it.
  #withRemaining(held: Held): TokenResponse {
    return {
      ...held.body,
      expires_in: Math.max(0, Math.floor((held.expiresAt - this.#now()) / 1000)),
    };
  }

  // Concurrent callers of one profile share one request.
  #fetchOnce(profile: string, minValidity: number): Promise<Held> {
    return this.#inFlight.run(profile, () => this.#fetchWithRetries(profile, minValidity));
  }

  async #fetchWithRetries(profile: string, minValidity: number): Promise<Held> {
    const deadline = this.#now() + this.#maxRetryTimeMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const held = await this.#fetchToken(profile, minValidity);
        this.#held.set(profile, held);
        return held;
      } catch (error) {
        const retryAfterMs = error instanceof RetryableAnswer ? error.retryAfterMs : undefined;
        if (
          retryAfterMs === undefined ||
          attempt > MAX_RETRIES ||
          this.#now() + retryAfterMs > deadline
        ) {
          throw error instanceof RetryableAnswer ? error.failure : error;
        }
        await this.#sleep(retryAfterMs);
      }
    }
  }

  async #fetchToken(profile: string, minValidity: number): Promise<Held> {
    const url = new URL(`tokens/${encodeURIComponent(profile)}`, this.#base);
    url.searchParams.set("min_validity", String(minValidity));
    // The local server in --profiles mode wants its per-start secret (never sent anywhere else).
    const headers = { ...(await this.#signedHeaders(url)), ...localServerHeaders(url) };
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, { headers, redirect: "error" });
      text = await response.text();
    } catch (error) {
      throw new TokenVendingError(
        0,
        "network_error",
        `no answer from ${url.origin}`,
        undefined,
        error,
      );
    }
    const body = parseJson(text);
    if (response.status === 200 && isTokenResponse(body)) {
      return { body, expiresAt: this.#now() + body.expires_in * 1000 };
    }
    const failure = errorOf(response.status, body);
    if (response.status === 503) {
      const seconds = Number(response.headers.get("retry-after") ?? "1");
      throw new RetryableAnswer(
        failure,
        (Number.isFinite(seconds) && seconds >= 0 ? seconds : 1) * 1000,
      );
    }
    throw failure;
  }

  /**
   * The SigV4 headers for a GET of `url`. The local server (a loopback URL) ignores signatures, so
   * without credentials the request goes unsigned there; anywhere else a request that cannot be
   * signed is refused by API Gateway, so it is not sent, and the error says why.
   */
  async #signedHeaders(url: URL): Promise<Record<string, string>> {
    let credentials: AwsCredentialIdentity;
    try {
      credentials =
        typeof this.#credentials === "function" ? await this.#credentials() : this.#credentials;
    } catch (error) {
      if (isLoopback(url)) return {};
      throw new TokenVendingError(
        0,
        "credentials_error",
        "no AWS credentials found to sign the request (looked for AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config and credentials files, SSO, web identity, and container or instance metadata)",
        undefined,
        error,
      );
    }
    return signRequest("GET", url, {
      region: this.#region,
      credentials,
      signingDate: new Date(this.#now()),
    });
  }
}

/** A `503`, to be retried after `retryAfterMs` while time allows. */
class RetryableAnswer extends Error {
  readonly failure: TokenVendingError;
  readonly retryAfterMs: number;
  constructor(failure: TokenVendingError, retryAfterMs: number) {
    super(failure.message);
    this.failure = failure;
    this.retryAfterMs = retryAfterMs;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isTokenResponse(body: unknown): body is TokenResponse {
  const fields = body as Partial<TokenResponse> | undefined;
  return typeof fields?.access_token === "string" && typeof fields.expires_in === "number";
}

// The service's JSON error, or API Gateway's own `{"message"}` answers (a missing or refused
// signature never reaches the function).
function errorOf(status: number, body: unknown): TokenVendingError {
  const fields = (body ?? {}) as {
    error?: unknown;
    error_description?: unknown;
    request_id?: unknown;
    message?: unknown;
  };
  const code =
    typeof fields.error === "string"
      ? fields.error
      : status === 403 || status === 401
        ? "access_denied"
        : "http_error";
  const description =
    typeof fields.error_description === "string"
      ? fields.error_description
      : typeof fields.message === "string"
        ? fields.message
        : `the service answered HTTP ${status}`;
  return new TokenVendingError(
    status,
    code,
    description,
    typeof fields.request_id === "string" ? fields.request_id : undefined,
  );
}
