/**
 * Errors of the request layer: a request the command cannot parse, one a door refuses, and our
 * own bugs. The core never raises these; `answers.ts` maps them, like the core's, to statuses.
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

/** A path other than `/tokens/{profile}`. */
export class NotFoundError extends VendingError {
  readonly code = "invalid_request";
  constructor() {
    super("Only /tokens/{profile} exists.");
  }
}

/**
 * A request the front door refuses before any vending rule runs: an event that did not come
 * through this function's own door, or (the local server) one a web page or another user sent.
 */
export class DoorRefusalError extends VendingError {
  readonly code = "access_denied";
  constructor(description: string, detail: string) {
    super(description, { detail });
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
