/**
 * The one error hierarchy of the vending path. Each class carries a stable `error` code of the
 * HTTP API; nothing here knows HTTP: `vend/answers.ts` maps errors to statuses and headers, in
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
 * sentence in both cases so profiles cannot be enumerated; the detail says which. A caller that
 * is allowed but asked for scopes beyond its ceiling may be told which (`description`): it can
 * see the profile already, so that names nothing it could not learn.
 */
export class AccessDeniedError extends VendingError {
  readonly code = "access_denied";
  constructor(detail: string, description = "The caller is not allowed to use this profile.") {
    super(description, { detail });
  }
}

/** The profile's secret is missing, unreadable or malformed. Other profiles still work. */
export class ConfigurationError extends VendingError {
  readonly code = "configuration_error";
  constructor(detail: string, cause?: unknown) {
    super("The profile's credentials are missing, unreadable or malformed.", { detail, cause });
  }
}

/** The dependencies whose failure the core reports; each error says which one failed. */
export type Dependency = "identity" | "table" | "secrets" | "lease" | "function-url";

/** Options of {@link UpstreamRejectedError}. */
export interface RejectionOptions {
  /** The upstream HTTP status. */
  readonly status: number;
  /** The OAuth2 `error` code the identity provider answered, when it sent one. */
  readonly oauthError?: string | undefined;
}

/** The identity provider refused the credentials or the request (a 4xx other than 429). */
export class UpstreamRejectedError extends VendingError {
  readonly code = "upstream_rejected";
  readonly dependency: Dependency = "identity";
  /** The OAuth2 `error` code the provider answered, when it sent one (for the log). */
  readonly upstreamError: string | undefined;
  /** The upstream HTTP status. */
  readonly upstreamStatus: number;

  constructor(options: RejectionOptions) {
    const { status, oauthError } = options;
    super("CyberArk Identity rejected the token request for this profile.", {
      detail: `the identity provider answered ${status}${oauthError ? ` ${oauthError}` : ""}`,
    });
    this.upstreamStatus = status;
    this.upstreamError = oauthError;
  }

  /** `invalid_client` or any 401: the credentials themselves were refused, maybe rotated. */
  get isInvalidClient(): boolean {
    return this.upstreamStatus === 401 || this.upstreamError === "invalid_client";
  }
}

/**
 * How a dependency failed:
 * - `timeout`: it did not answer in time;
 * - `failed`: it answered an error, was unreachable, or reset the connection;
 * - `unusable`: it answered something no token can be made of (or one too short-lived to serve);
 * - `backing-off`: it asked for a pause that is not over;
 * - `busy`: another request holds the work (the refresh lease) longer than this one can wait.
 */
export type FailureKind = "timeout" | "failed" | "unusable" | "backing-off" | "busy";

/** Options of {@link UpstreamUnavailableError}. */
export interface UnavailableOptions {
  readonly dependency: Dependency;
  readonly kind: FailureKind;
  /** Detail for the log: what failed, never a token, a secret or an ARN. */
  readonly detail: string;
  /** Seconds the caller should wait before retrying. */
  readonly retryAfterSeconds: number;
  /** Seconds the identity provider asked to be sent nothing (its `Retry-After`, capped). */
  readonly backOffSeconds?: number | undefined;
  readonly cause?: unknown;
  /** The caller's sentence, when the dependency's usual one would mislead. */
  readonly description?: string;
}

// The caller's sentence names the dependency that failed, in words a caller can act on.
const UNAVAILABLE: Readonly<Record<Dependency, string>> = {
  identity: "CyberArk Identity is unavailable; retry later.",
  table: "The token cache is unavailable; retry later.",
  secrets: "The profile's credentials cannot be read right now; retry later.",
  lease: "Another request is renewing this profile's token; retry later.",
  "function-url": "The function cannot confirm its own URL right now; retry later.",
};

/**
 * A dependency (the identity provider, the token table, the secret store or the refresh lease)
 * failed, and no cached token was valid long enough. Carries the dependency, how it failed, and
 * the `Retry-After` the caller should honour.
 */
export class UpstreamUnavailableError extends VendingError {
  readonly code = "upstream_unavailable";
  readonly dependency: Dependency;
  readonly kind: FailureKind;
  /** Seconds the caller should wait before retrying. */
  readonly retryAfterSeconds: number;
  /**
   * Seconds the identity provider asked us to send it nothing (its `Retry-After` on a 429 or 503,
   * capped); `undefined` when it asked for nothing. The profile's requests hold off that long.
   */
  readonly backOffSeconds: number | undefined;

  constructor(options: UnavailableOptions) {
    const description = options.description ?? UNAVAILABLE[options.dependency];
    super(description, { detail: options.detail, cause: options.cause });
    this.dependency = options.dependency;
    this.kind = options.kind;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.backOffSeconds = options.backOffSeconds;
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

/** What a log line says about a failure: an error of ours says what failed, anything else only its class. */
export function logReason(error: unknown): string {
  return error instanceof VendingError ? error.message : describeUnknown(error);
}
