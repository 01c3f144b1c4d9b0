/**
 * Errors of the HTTP layer: a request the handler cannot parse, and our own bugs. The core never
 * raises these; `http.ts` maps them, like the core's, to statuses.
 */
import { describeUnknown, VendingError } from "../core/errors.js";

/** A malformed profile name, `min_validity`, query or body. */
export class InvalidRequestError extends VendingError {
  readonly code = "invalid_request";
}

/** A method other than `GET` or `DELETE`. */
export class MethodNotAllowedError extends VendingError {
  readonly code = "invalid_request";
  constructor(method: string) {
    super("Only GET and DELETE are supported on /tokens/{profile}.", {
      detail: `method ${method} is not supported`,
    });
  }
}

/** Anything we did not expect. The caller learns nothing about it; the log does. */
export class InternalError extends VendingError {
  readonly code = "server_error";
  constructor(cause: unknown) {
    super("The token vending service failed unexpectedly.", {
      detail: describeUnknown(cause),
      cause,
    });
  }
}
