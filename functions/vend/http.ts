/**
 * API Gateway REST proxy events in, HTTP responses out. The only place that knows status codes
 * and headers; no vending rule lives here.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { ErrorResponse, TokenResponse } from "../common/api.js";
import { type Caller, parseCaller } from "../core/callers.js";
import { type ErrorCode, UpstreamUnavailableError, type VendingError } from "../core/errors.js";
import { PROFILE_NAME } from "../core/profiles.js";
import {
  DEFAULT_MIN_VALIDITY_SECONDS,
  MAX_MIN_VALIDITY_SECONDS,
  remainingSeconds,
} from "../core/token.js";
import type { InvalidateQuery, TokenQuery, VendedToken } from "../core/vendor.js";
import { InvalidRequestError, MethodNotAllowedError } from "./request-errors.js";

/** What a request asks for. */
export type VendCommand =
  | { readonly kind: "get"; readonly query: TokenQuery }
  | { readonly kind: "delete"; readonly query: InvalidateQuery };

const MIN_VALIDITY = /^\d{1,4}$/;

/**
 * The signed caller's ARN. API Gateway fills `requestContext.identity` from the verified SigV4
 * signature; nothing the caller sends in headers is read.
 */
export function callerArnOf(event: APIGatewayProxyEvent): string | undefined {
  // `event` may be anything a direct invocation sent, `null` included.
  return (event as APIGatewayProxyEvent | null)?.requestContext?.identity?.userArn ?? undefined;
}

/**
 * Parses a `/tokens/{profile}` request.
 * @throws {InvalidRequestError} on a malformed profile name, query or body.
 * @throws {MethodNotAllowedError} on a method other than GET and DELETE.
 */
export function parseCommand(event: APIGatewayProxyEvent): VendCommand {
  const method = event.httpMethod;
  if (method !== "GET" && method !== "DELETE") throw new MethodNotAllowedError(String(method));

  const profile = event.pathParameters?.profile;
  if (typeof profile !== "string" || !PROFILE_NAME.test(profile)) {
    throw new InvalidRequestError(
      "The profile name must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter or digit.",
    );
  }
  if (event.body !== null && event.body !== undefined && event.body !== "") {
    throw new InvalidRequestError("The request must not have a body.");
  }
  const caller: Caller | undefined = parseCaller(callerArnOf(event));
  const query = queryOf(event);

  if (method === "DELETE") {
    if (query.size > 0) throw new InvalidRequestError("DELETE takes no query parameters.");
    return { kind: "delete", query: { profile, caller } };
  }
  for (const name of query.keys()) {
    if (name !== "min_validity") {
      throw new InvalidRequestError("The only query parameter accepted is min_validity.");
    }
  }
  return {
    kind: "get",
    query: { profile, caller, minValiditySeconds: parseMinValidity(query.get("min_validity")) },
  };
}

function queryOf(event: APIGatewayProxyEvent): Map<string, string[]> {
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    return new Map(Object.entries(multi).map(([name, values]) => [name, values ?? []]));
  }
  const single = event.queryStringParameters ?? {};
  return new Map(
    Object.entries(single).map(([name, value]) => [name, value === undefined ? [] : [value]]),
  );
}

function parseMinValidity(values: string[] | undefined): number {
  if (values === undefined) return DEFAULT_MIN_VALIDITY_SECONDS;
  const [value] = values;
  const seconds =
    values.length === 1 && value !== undefined && MIN_VALIDITY.test(value) ? Number(value) : -1;
  if (seconds < 0 || seconds > MAX_MIN_VALIDITY_SECONDS) {
    throw new InvalidRequestError(
      `min_validity must be a single whole number of seconds from 0 to ${MAX_MIN_VALIDITY_SECONDS}.`,
    );
  }
  return seconds;
}

// Tokens and errors alike must never be stored by a proxy or a browser.
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

/** `200` with the token; `expires_in` counts from `now`. */
export function tokenResponse(
  profile: string,
  vended: VendedToken,
  now: number,
): APIGatewayProxyResult {
  const { token } = vended;
  const body: TokenResponse = {
    access_token: token.accessToken,
    token_type: "Bearer",
    expires_in: remainingSeconds(token, now),
    expires_at: new Date(Math.floor(token.expiresAt / 1000) * 1000)
      .toISOString()
      .replace(".000Z", "Z"),
    ...(token.scope === undefined ? {} : { scope: token.scope }),
    profile,
  };
  return {
    statusCode: 200,
    headers: { "Content-Type": "application/json", ...NO_STORE },
    body: JSON.stringify(body),
  };
}

/** `204` after an invalidation. */
export function noContentResponse(): APIGatewayProxyResult {
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

/** The HTTP status of an error: by its code, except `405` for a method that is not allowed. */
export function statusOf(error: VendingError): number {
  return error instanceof MethodNotAllowedError ? 405 : STATUS_BY_CODE[error.code];
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
export function errorResponse(error: VendingError, requestId: string): APIGatewayProxyResult {
  const body: ErrorResponse = {
    error: error.code,
    error_description: error.description,
    request_id: requestId,
  };
  return {
    statusCode: statusOf(error),
    headers: { "Content-Type": "application/json", ...NO_STORE, ...headersOf(error) },
    body: JSON.stringify(body),
  };
}
