/**
 * HTTP answers: the only place that knows status codes and headers. Every front door sends these
 * as they are (API Gateway's REST proxy and a function URL take the same `statusCode`, `headers`
 * and `body`; the local server writes them to its socket). No vending rule lives here.
 */
import type { ErrorResponse, TokenResponse } from "../common/api.js";
import { type ErrorCode, UpstreamUnavailableError, type VendingError } from "../core/errors.js";
import { remainingSeconds } from "../core/token.js";
import type { VendedToken } from "../core/vendor.js";
import { MethodNotAllowedError, NotFoundError } from "./request-errors.js";

/** An HTTP answer, whichever door carries it. */
export interface VendAnswer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

// Tokens and errors alike must never be stored by a proxy or a browser.
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;
const JSON_NO_STORE = { "Content-Type": "application/json", ...NO_STORE } as const;

/**
 * `200` with the token; `expires_in` counts from `now`. A warm instance serves the same token to
 * many requests a second, and the answer is the same for all of them until `expires_in` drops, so
 * the last answer is kept and handed out again (answers are never changed once made).
 */
export function tokenAnswer(profile: string, vended: VendedToken, now: number): VendAnswer {
  const { token } = vended;
  const expiresIn = remainingSeconds(token, now);
  const kept = lastAnswer;
  if (kept?.token === token && kept.expiresIn === expiresIn && kept.profile === profile) {
    return kept.answer;
  }
  const body: TokenResponse = {
    access_token: token.accessToken,
    token_type: "Bearer",
    expires_in: expiresIn,
    expires_at: wholeSecondsIso(token.expiresAt),
    ...(token.scope === undefined ? {} : { scope: token.scope }),
    profile,
  };
  const answer = { statusCode: 200, headers: TOKEN_HEADERS, body: JSON.stringify(body) };
  lastAnswer = { token, expiresIn, profile, answer };
  return answer;
}

const TOKEN_HEADERS: Readonly<Record<string, string>> = Object.freeze({ ...JSON_NO_STORE });
let lastAnswer:
  | {
      readonly token: VendedToken["token"];
      readonly expiresIn: number;
      readonly profile: string;
      readonly answer: VendAnswer;
    }
  | undefined;

// `2026-11-21T23:10:05Z`, from epoch milliseconds.
function wholeSecondsIso(expiresAt: number): string {
  return new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** `204` after an invalidation. */
export function noContentAnswer(): VendAnswer {
  return { statusCode: 204, headers: { ...NO_STORE }, body: "" };
}

const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  access_denied: 403,
  configuration_error: 500,
  upstream_rejected: 502,
  upstream_unavailable: 503,
  server_error: 500,
};

/**
 * The HTTP status of an error: by its code, except `404` for a path that does not exist and
 * `405` for a method that is not allowed (both `invalid_request`).
 */
export function statusOf(error: VendingError): number {
  if (error instanceof NotFoundError) return 404;
  if (error instanceof MethodNotAllowedError) return 405;
  return STATUS_BY_CODE[error.code];
}

// `Allow` tells a client what it may use instead; `Retry-After` when it may come back.
function headersOf(error: VendingError): Record<string, string> {
  if (error instanceof MethodNotAllowedError) return { Allow: "GET, DELETE" };
  if (error instanceof UpstreamUnavailableError) {
    return { "Retry-After": String(error.retryAfterSeconds) };
  }
  return {};
}

/** The error JSON, with the error's own headers (`Retry-After` on `503`, `Allow` on `405`). */
export function errorAnswer(error: VendingError, requestId: string): VendAnswer {
  const body: ErrorResponse = {
    error: error.code,
    error_description: error.description,
    request_id: requestId,
  };
  return {
    statusCode: statusOf(error),
    headers: { ...JSON_NO_STORE, ...headersOf(error) },
    body: JSON.stringify(body),
  };
}
