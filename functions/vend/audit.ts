/**
 * The one structured audit line per request, and what the log may keep of an unexpected error.
 * Never a token, a secret or a whole event.
 */
import { VendingError } from "../core/errors.js";
import type { CacheLevel } from "../core/vendor.js";
import type { DoorRequest } from "./vending.js";

/** What the vending learns about a request, for its audit line. Never a token. */
export interface AuditFields {
  cache?: CacheLevel;
  /** {@link tokenFingerprint} of the returned token, or of the tokens a `DELETE` revoked. */
  tokenSha256?: string;
  /** A `DELETE`'s revocation at CyberArk: `true`, `false` (nothing to revoke) or `failed`. */
  revoked?: "true" | "false" | "failed";
  /** How many tokens a `DELETE` revoked. */
  revokedCount?: number;
  /** Tokens a `DELETE` knew of and did not revoke, by reason (`expired=1,newer-epoch=2`). */
  skipped?: string;
  /** The scope set a `GET` asked (the caller's, or the profile's default; `""`: none). */
  asked?: string;
  /** The scopes CyberArk granted the returned token, when its answer named them. */
  granted?: string;
}

/** The log methods the vending uses. Powertools' Logger fits. */
export interface AuditLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/**
 * The audit line's fields: caller ARN, profile, outcome, cache level, token fingerprint, and the
 * scope sets asked and granted.
 */
export function auditLine(
  request: DoorRequest,
  status: number,
  error: VendingError | undefined,
  audit: AuditFields,
): Record<string, unknown> {
  return {
    requestId: request.requestId,
    // A made-up event may name neither; the line then leaves them out.
    method: request.method || undefined,
    profile: request.profile || undefined,
    caller: request.caller,
    status,
    outcome: error instanceof VendingError ? error.code : "ok",
    ...(error ? { reason: error.message } : {}),
    ...audit,
  };
}

/**
 * Frame lines only: an error's message may quote a value we must not log, on any of its lines.
 * The message is cut off first, so a message line that merely looks like a frame is dropped too.
 */
export function stackFrames(error: unknown): string | undefined {
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
