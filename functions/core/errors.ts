/**
 * The one error hierarchy of the vending path. Each class carries the contract's stable `error`
 * code and HTTP status; `http/responses.ts` maps them to a response in exactly one place.
 *
 * Two texts per error, as octo-sts does: `description` is the one human sentence the caller may
 * see; `message` is the detail for the log (which profile, which upstream code). Neither ever
 * holds a token, a secret or someone else's ARN.
 */

/** The `error` values of the HTTP API, plus `server_error` for our own bugs. */
export type ErrorCode =
  | "invalid_request"
  | "access_denied"
  | "configuration_error"
  | "upstream_rejected"
  | "upstream_unavailable"
  | "server_error";

interface VendingErrorOptions {
  /** Detail for the log; defaults to the caller-facing description. */
  readonly detail?: string;
  readonly cause?: unknown;
}

/** Base of every error the vending path raises on purpose. */
export abstract class VendingError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly status: number;
  /** One sentence safe to show to the caller. */
  readonly description: string;

  constructor(description: string, options: VendingErrorOptions = {}) {
    super(options.detail ?? description, { cause: options.cause });
    this.name = new.target.name;
    this.description = description;
  }

  /** HTTP headers the response must carry besides the defaults (`Retry-After`, `Allow`). */
  get responseHeaders(): Readonly<Record<string, string>> {
    return {};
  }
}

/** `400`: a malformed profile name, `min_validity`, query or body. */
export class InvalidRequestError extends VendingError {
  readonly code = "invalid_request";
  readonly status = 400;
}

/** `405`: a method other than `GET` or `DELETE`. */
export class MethodNotAllowedError extends VendingError {
  readonly code = "invalid_request";
  readonly status = 405;
  constructor(method: string) {
    super("Only GET and DELETE are supported on /tokens/{profile}.", {
      detail: `method ${method} is not supported`,
    });
  }

  override get responseHeaders(): Readonly<Record<string, string>> {
    return { Allow: "GET, DELETE" };
  }
}

/**
 * `403`: the caller is not allowed, or the profile does not exist. The caller sees the same
 * sentence in both cases so profiles cannot be enumerated; the detail says which.
 */
export class AccessDeniedError extends VendingError {
  readonly code = "access_denied";
  readonly status = 403;
  constructor(detail: string) {
    super("The caller is not allowed to use this profile.", { detail });
  }
}

/** `500`: the profile's secret is missing, unreadable or malformed. Other profiles still work. */
export class ConfigurationError extends VendingError {
  readonly code = "configuration_error";
  readonly status = 500;
  constructor(detail: string, cause?: unknown) {
    super("The profile's credentials are missing, unreadable or malformed.", { detail, cause });
  }
}

/** `502`: CyberArk refused the credentials or the request (a 4xx other than 429). */
export class UpstreamRejectedError extends VendingError {
  readonly code = "upstream_rejected";
  readonly status = 502;
  /** The OAuth2 `error` code CyberArk answered, when it sent one (for the log). */
  readonly upstreamError: string | undefined;
  /** The upstream HTTP status. */
  readonly upstreamStatus: number;

  constructor(upstreamStatus: number, upstreamError: string | undefined) {
    super("CyberArk Identity rejected the token request for this profile.", {
      detail: `CyberArk answered ${upstreamStatus}${upstreamError ? ` ${upstreamError}` : ""}`,
    });
    this.upstreamStatus = upstreamStatus;
    this.upstreamError = upstreamError;
  }

  /** `invalid_client` or any 401: the credentials themselves were refused, maybe rotated. */
  get isInvalidClient(): boolean {
    return this.upstreamStatus === 401 || this.upstreamError === "invalid_client";
  }
}

/**
 * `503`: CyberArk timed out, was unreachable, answered 429 or 5xx, or sent an unusable body, and
 * no cached token was valid long enough. Carries the `Retry-After` the caller should honour.
 */
export class UpstreamUnavailableError extends VendingError {
  readonly code = "upstream_unavailable";
  readonly status = 503;
  /** Seconds the caller should wait before retrying. */
  readonly retryAfterSeconds: number;
  /**
   * Seconds CyberArk asked us to send it nothing (its `Retry-After` on a 429 or 503, capped);
   * `undefined` when it asked for nothing. The profile's requests hold off that long.
   */
  readonly backOffSeconds: number | undefined;

  constructor(detail: string, retryAfterSeconds: number, cause?: unknown, backOffSeconds?: number) {
    super("CyberArk Identity is unavailable; retry later.", { detail, cause });
    this.retryAfterSeconds = retryAfterSeconds;
    this.backOffSeconds = backOffSeconds;
  }

  override get responseHeaders(): Readonly<Record<string, string>> {
    return { "Retry-After": String(this.retryAfterSeconds) };
  }
}

/** `500`: anything we did not expect. The caller learns nothing about it; the log does. */
export class InternalError extends VendingError {
  readonly code = "server_error";
  readonly status = 500;
  constructor(cause: unknown) {
    super("The token vending service failed unexpectedly.", {
      detail: describeUnknown(cause),
      cause,
    });
  }
}

/**
 * A short, loggable description of any thrown value: its class name and AWS/Node error code,
 * never its message (an SDK message may quote an ARN or a request parameter).
 */
export function describeUnknown(cause: unknown): string {
  if (!(cause instanceof Error)) return typeof cause;
  const code = (cause as { code?: unknown }).code;
  return typeof code === "string" ? `${cause.name} (${code})` : cause.name;
}
