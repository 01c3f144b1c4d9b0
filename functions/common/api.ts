/**
 * The HTTP API's wire types, shared by the vending function that writes them and the published
 * client that reads them (type-only: nothing here reaches a bundle).
 */

/** The `200` body of `GET /tokens/{profile}`. */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: "Bearer";
  /** Seconds the token stays valid, counted from the response; never more than CyberArk granted. */
  readonly expires_in: number;
  /** ISO 8601 expiry in whole seconds, e.g. `2026-11-21T23:10:05Z`. */
  readonly expires_at: string;
  /** The scope CyberArk returned with the token, when it returned one. */
  readonly scope?: string;
  readonly profile: string;
}

/** The body of every error answer. */
export interface ErrorResponse {
  /** A stable code: `invalid_request`, `access_denied`, `configuration_error`, ... */
  readonly error: string;
  /** One human sentence; never a secret, a token or a stack trace. */
  readonly error_description: string;
  /** The request's ID, to quote when asking an operator. */
  readonly request_id: string;
}
