/**
 * One request to the API: signed, sent, and its answer read, within an attempt's time. What to do
 * with the answer (keep, retry, throw) is the client's.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { TokenResponse } from "../common/api.js";
import { isB64Token, NOT_A_B64TOKEN } from "../common/b64token.js";
import { parseRetryAfterMs } from "../common/backoff.js";
import { localServerHeaders } from "../common/local-secret.js";
import { isLoopback } from "./api-url.js";
import { timedOut } from "./call-deadline.js";
import { answerError, TokenVendingError } from "./errors.js";
import { signRequest } from "./signing.js";

/** What signs a request: region, credentials and the clock of the signature's date. */
export interface RequestSigner {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly now: () => number;
}

/** One request to send. */
export interface ApiRequest {
  readonly method: "GET" | "DELETE";
  readonly url: URL;
  /** The call's signal: its reason is thrown as it is. */
  readonly signal: AbortSignal;
  readonly attemptTimeoutMs: number;
  readonly signer: RequestSigner;
  readonly fetch: typeof fetch;
}

/** An answer of any status. */
export interface ApiAnswer {
  readonly status: number;
  /** The body parsed as JSON; `undefined` when it is not JSON. */
  readonly body: unknown;
  /** The `Retry-After` of a `429` or `503`, in ms. */
  readonly retryAfterMs: number | undefined;
  /** The answer as an error, for a status that is not success. */
  error(): TokenVendingError;
}

/**
 * Sends `request` and reads the answer.
 * @throws {TokenVendingError} `network_error` (no answer), `timeout` (no answer within the
 *   attempt's time), `credentials_error`, or the call signal's reason (the call's `timeout`,
 *   the caller's `aborted`).
 */
export async function sendRequest(request: ApiRequest): Promise<ApiAnswer> {
  // Credentials may take a while (SSO, instance metadata): the call's time counts them too.
  const headers = {
    ...(await untilAborted(signedHeaders(request), request.signal)),
    // The local server in --profiles mode wants its per-start secret (sent to 127.0.0.1 only).
    ...localServerHeaders(request.url),
  };
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(), request.attemptTimeoutMs);
  try {
    const response = await request.fetch(request.url, {
      method: request.method,
      headers,
      redirect: "error",
      signal: AbortSignal.any([request.signal, attempt.signal]),
    });
    const text = await response.text();
    const status = response.status;
    const retryAfterMs =
      status === 429 || status === 503
        ? parseRetryAfterMs(response.headers.get("retry-after"), request.signer.now())
        : undefined;
    const body = parseJson(text);
    return { status, body, retryAfterMs, error: () => answerError(status, body) };
  } catch (error) {
    if (request.signal.aborted) throw request.signal.reason;
    if (attempt.signal.aborted) throw timedOut(request.attemptTimeoutMs, "an attempt");
    throw new TokenVendingError({
      code: "network_error",
      description: `no answer from ${request.url.origin}`,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The token of a `200` answer.
 * @throws {TokenVendingError} `invalid_token` for a token that is not an RFC 6750 b64token (never
 *   handed on: it could carry shell syntax or line breaks into a caller's script or log), or
 *   `http_error` for a body that is not a token response.
 */
export function tokenOf(answer: ApiAnswer): TokenResponse {
  const body = answer.body as Partial<TokenResponse> | undefined;
  if (typeof body?.access_token !== "string" || typeof body.expires_in !== "number") {
    throw new TokenVendingError({
      code: "http_error",
      status: answer.status,
      description: "the answer is not a token response",
    });
  }
  if (!isB64Token(body.access_token)) {
    throw new TokenVendingError({
      code: "invalid_token",
      status: answer.status,
      description: `the service returned an unusable token: ${NOT_A_B64TOKEN}`,
    });
  }
  return body as TokenResponse;
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The SigV4 headers for `request`. The local server (a loopback URL) ignores signatures, so
 * without credentials the request goes unsigned there; anywhere else a request that cannot be
 * signed is refused by API Gateway, so it is not sent, and the error says why.
 */
async function signedHeaders(request: ApiRequest): Promise<Record<string, string>> {
  const { credentials, region, now } = request.signer;
  let identity: AwsCredentialIdentity;
  try {
    identity = typeof credentials === "function" ? await credentials() : credentials;
  } catch (error) {
    if (isLoopback(request.url)) return {};
    throw new TokenVendingError({
      code: "credentials_error",
      description:
        "no AWS credentials found to sign the request (looked for AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config and credentials files, SSO, web identity, and container or instance metadata)",
      cause: error,
    });
  }
  return signRequest(request.method, request.url, {
    region,
    credentials: identity,
    signingDate: new Date(now()),
  });
}
