/**
 * The cross-cutting concerns of the vending handler, as middy middlewares: the contract's error
 * responses and the one audit line per request.
 */
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { AccessDeniedError, VendingError } from "../core/errors.js";
import type { CacheLevel } from "../core/vendor.js";
import { callerArnOf, errorResponse } from "./http.js";
import { InternalError } from "./request-errors.js";

/** What the handler learns about a request, for its audit line. Never a token. */
export interface AuditFields {
  cache?: CacheLevel;
  /** {@link tokenFingerprint} of the returned token, or of the tokens a `DELETE` revoked. */
  tokenSha256?: string;
  /** A `DELETE`'s revocation at CyberArk: `true`, `false` (nothing to revoke) or `failed`. */
  revoked?: "true" | "false" | "failed";
}

/** The Lambda context as the handler sees it: the handler records its audit fields on it. */
export type VendingContext = Context & { audit?: AuditFields };

/** The log methods the middlewares use. Powertools' Logger fits. */
export interface AuditLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

type Middleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, VendingContext>;

/** The request ID the caller can quote: API Gateway's, else the Lambda invocation's. */
export function requestIdOf(event: APIGatewayProxyEvent, context: Context): string {
  return eventOf(event).requestContext?.requestId ?? context.awsRequestId ?? "unknown";
}

// A direct invocation can hand the function anything, `null` included: every middleware reads
// the event through this, so nothing crashes before the refusal and its audit line.
function eventOf(event: unknown): Partial<APIGatewayProxyEvent> {
  return typeof event === "object" && event !== null ? event : {};
}

/**
 * Turns every error into the contract's JSON. Registered last, so on error it runs first and every
 * other middleware sees a response. An error we did not raise on purpose becomes a `500` whose
 * details (class and code only) stay in the log.
 */
export function errorResponses(logger: AuditLogger): Middleware {
  return {
    onError: async (request) => {
      const known = request.error instanceof VendingError ? request.error : undefined;
      const error = known ?? new InternalError(request.error);
      if (!known)
        logger.error("unexpected error", {
          reason: error.message,
          stack: stackFrames(request.error),
        });
      request.error = error;
      request.response = errorResponse(error, requestIdOf(request.event, request.context));
    },
  };
}

/** The REST API and stage whose events the function answers. */
export interface ApiIdentity {
  /** `requestContext.apiId` of this stack's API (`"local"` for the local server). */
  readonly apiId: string;
  /** `requestContext.stage` of this stack's stage (`"local"` for the local server). */
  readonly stage: string;
}

/**
 * Refuses events that did not come through this stack's API and stage. API Gateway verified the
 * SigV4 signature that `requestContext.identity` comes from; a principal allowed to invoke the
 * function directly can write that identity into a made-up event. This does not stop one who
 * also knows the API's id (see the README's threat model), but it closes the accidental and the
 * casual paths, and the log says it happened.
 */
export function ownApiOnly(api: ApiIdentity): Middleware {
  return {
    before: async ({ event }) => {
      const { apiId, stage } = eventOf(event).requestContext ?? {};
      if (apiId !== api.apiId || stage !== api.stage) {
        throw new AccessDeniedError("event not from this API");
      }
    },
  };
}

/**
 * One structured line per request: caller ARN, profile, outcome, cache level, token fingerprint.
 * Registered before {@link errorResponses}, so it logs the final status of failed requests too.
 */
export function auditLog(logger: AuditLogger): Middleware {
  const log: NonNullable<Middleware["after"]> = async (request) => {
    const { event, context, error } = request;
    logger.info("token request", {
      requestId: requestIdOf(event, context),
      method: eventOf(event).httpMethod,
      profile: eventOf(event).pathParameters?.profile,
      caller: callerArnOf(event),
      status: request.response?.statusCode,
      outcome: error instanceof VendingError ? error.code : "ok",
      ...(error ? { reason: error.message } : {}),
      ...context.audit,
    });
  };
  return { after: log, onError: log };
}

// Frame lines only: an error's message may quote a value we must not log, on any of its lines.
// The message is cut off first, so a message line that merely looks like a frame is dropped too.
function stackFrames(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.stack === undefined) return undefined;
  const messageAt = error.message === "" ? -1 : error.stack.indexOf(error.message);
  const afterMessage =
    messageAt < 0 ? error.stack : error.stack.slice(messageAt + error.message.length);
  return afterMessage
    .split("\n")
    .filter((line) => STACK_FRAME.test(line))
    .join("\n");
}

const STACK_FRAME = /^ {4}at \S/;
