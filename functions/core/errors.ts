/**
 * The one error hierarchy of the vending path. Each class carries a stable `error` code of the
 * HTTP API; nothing here knows HTTP: `vend/http.ts` maps errors to statuses and headers, in
 * exactly one place. The core raises the domain errors below; the request errors
 * (`invalid_request`, and `server_error` for our own bugs) live with the handler in
 * `vend/request-errors.ts`.
 *
 * Two texts per error, as octo-sts does: `description` is the one human sentence the caller may
 * see; `message` is the detail for the log (which profile, which upstream code). Neither ever
 * holds a token, a secret or someone else's ARN.
 */

/** The API's `error` values, `server_error` included (for our own bugs). */
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
  /** One sentence safe to show to the caller. */
  readonly description: string;

  constructor(description: string, options: VendingErrorOptions = {}) {
    super(options.detail ?? description, { cause: options.cause });
    this.name = new.target.name;
    this.description = description;
  }
}

/**
 * The caller is not allowed, or the profile does not exist. The caller sees the same
 * sentence in both cases so profiles cannot be enumerated; the detail says which.
 */
export class AccessDeniedError extends VendingError {
  readonly code = "access_denied";
  constructor(detail: string) {
    super("The caller is not allowed to use this profile.", { detail });
  }
}

/** The profile's secret is missing, unreadable or malformed. Other profiles still work. */
export class ConfigurationError extends VendingError {
  readonly code = "configuration_error";
  constructor(detail: string, cause?: unknown) {
    super("The profile's credentials are missing, unreadable or malformed.", { detail, cause });
  }
}

/** CyberArk refused the credentials or the request (a 4xx other than 429). */
export class UpstreamRejectedError extends VendingError {
  readonly code = "upstream_rejected";
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
 * CyberArk timed out, was unreachable, answered 429 or 5xx, or sent an unusable body, and
 * no cached token was valid long enough. Carries the `Retry-After` the caller should honour.
 */
export class UpstreamUnavailableError extends VendingError {
  readonly code = "upstream_unavailable";
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
