/**
 * The client's one error type. Every failure of `getToken` and `invalidate` is a
 * {@link TokenVendingError} with a stable `code`: the service's own `error` value, or one of the
 * client's for what happened before an answer (no credentials, no connection, time out, abort).
 */
import { fieldsOf } from "../common/records.js";

/** The `error` values the service sends (its HTTP API's error table). */
const SERVICE_CODES = [
  "invalid_request",
  "access_denied",
  "configuration_error",
  "server_error",
  "upstream_rejected",
  "upstream_unavailable",
] as const;

/**
 * What went wrong, stable across releases:
 * - the service's `error` values: `invalid_request`, `access_denied`, `configuration_error`,
 *   `server_error`, `upstream_rejected`, `upstream_unavailable`;
 * - `throttled`: a `429` (API Gateway's throttling, or a proxy's);
 * - `http_error`: any other answer that is not the service's JSON (a proxy's `502`, a gateway's
 *   `504`, an HTML page);
 * - `invalid_token`: a `200` whose token is not an RFC 6750 b64token (never handed on);
 * - `network_error`: no answer (refused, reset, DNS);
 * - `timeout`: no answer within `timeoutMs`;
 * - `aborted`: the caller's `AbortSignal` fired;
 * - `credentials_error`: no AWS credentials to sign a request to a remote API;
 * - `invalid_option`: an option of the client or of a call is out of its range (the caller's
 *   mistake, found before any request; a URL the client refuses is `InvalidApiUrlError`).
 */
export type TokenVendingErrorCode =
  | (typeof SERVICE_CODES)[number]
  | "throttled"
  | "http_error"
  | "invalid_token"
  | "network_error"
  | "timeout"
  | "aborted"
  | "credentials_error"
  | "invalid_option";

/** Statuses worth another attempt: throttling, and a gateway or service that is briefly down. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** What a {@link TokenVendingError} is made of. */
export interface TokenVendingErrorFields {
  readonly code: TokenVendingErrorCode;
  /** @default 0, no answer */
  readonly status?: number;
  /** @default the code */
  readonly error?: string;
  readonly description: string;
  readonly requestId?: string;
  readonly cause?: unknown;
}

/** A request that failed: denied, refused, timed out, or with no answer at all. */
export class TokenVendingError extends Error {
  /** Stable code to branch on; see {@link TokenVendingErrorCode}. */
  readonly code: TokenVendingErrorCode;
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** The service's `error` as sent (an unknown future value stays here; `code` says `http_error`). */
  readonly error: string;
  /** The service's one-sentence `error_description`, or the client's. */
  readonly description: string;
  /** The service's `request_id`, to quote to an operator; absent when there was no service answer. */
  readonly request_id: string | undefined;
  /**
   * Whether the same request may succeed later: no answer, a time out, `429`, `502`, `503`, `504`.
   * The client has already retried these within the call's time; this says a later call may work.
   */
  readonly retryable: boolean;

  constructor(fields: TokenVendingErrorFields) {
    super(`${fields.error ?? fields.code}: ${fields.description}`, { cause: fields.cause });
    this.name = "TokenVendingError";
    this.code = fields.code;
    this.status = fields.status ?? 0;
    this.error = fields.error ?? fields.code;
    this.description = fields.description;
    this.request_id = fields.requestId;
    this.retryable =
      RETRYABLE_STATUSES.has(this.status) ||
      fields.code === "network_error" ||
      fields.code === "timeout";
  }
}

/**
 * The error for a non-success answer: the service's JSON error, or API Gateway's own
 * `{"message"}` answers (a missing or refused signature never reaches the function, and a
 * throttled request neither), or anything a proxy sends.
 */
export function answerError(status: number, body: unknown): TokenVendingError {
  const fields = fieldsOf<{
    error: unknown;
    error_description: unknown;
    request_id: unknown;
    message: unknown;
  }>(body);
  const error = typeof fields.error === "string" ? fields.error : undefined;
  const description =
    typeof fields.error_description === "string"
      ? fields.error_description
      : typeof fields.message === "string"
        ? fields.message
        : `the service answered HTTP ${status}`;
  return new TokenVendingError({
    code: codeOf(status, error),
    status,
    ...(error === undefined ? {} : { error }),
    description,
    ...(typeof fields.request_id === "string" ? { requestId: fields.request_id } : {}),
  });
}

function codeOf(status: number, error: string | undefined): TokenVendingErrorCode {
  const known = SERVICE_CODES.find((code) => code === error);
  if (known) return known;
  if (status === 401 || status === 403) return "access_denied";
  if (status === 429) return "throttled";
  return "http_error";
}

/** An `error` value a line may name as it was sent: a code, not a sentence. */
const PLAIN_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A failure for a person: the error code, the description and the request id to quote to an
 * operator, e.g. `access_denied: The caller is not allowed. (request_id 5f1c...)`. The code is
 * the server's `error` as sent when it is a plain code, else the client's stable `code`, so the
 * line always begins with one. The server's text is as sent: whoever writes it escapes it.
 */
export function failureLine(error: unknown): string {
  if (error instanceof TokenVendingError) {
    const name = PLAIN_CODE.test(error.error) ? error.error : error.code;
    const requestId = error.request_id ? ` (request_id ${error.request_id})` : "";
    return `${name}: ${error.description}${requestId}`;
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}
