/**
 * When the client tries a `GET` again, and after how long. Only what may succeed a moment later is
 * retried (no answer, a stalled attempt, `429`, `502`, `503`, `504`: see
 * {@link TokenVendingError.retryable}); never another `4xx` or `500`, and never a `DELETE`. The
 * wait is the service's `Retry-After` when it sent one, honoured in full, else full jitter; a wait
 * that would not leave time for another attempt before the call's deadline ends the call with the
 * last error instead, so a call never outlives its `timeoutMs` and never comes back sooner than
 * it was asked to.
 *
 * A hand-written policy rather than Smithy's `StandardRetryStrategy` (`@smithy/core/retry`): that
 * strategy sleeps inside `refreshRetryTokenForRetry` on a timer no `AbortSignal` can cancel, and
 * caps a `Retry-After` at its own jittered delay plus 5 s, so it can honour neither a caller's
 * abort nor the service's `Retry-After` (up to 300 s when CyberArk asks for a back-off). The
 * jitter itself is the one the identity client uses (`common/backoff.ts`).
 */
import { fullJitterMs } from "../common/backoff.js";
import type { TokenVendingError } from "./errors.js";

/** The numbers of the retry policy. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 4 */
  readonly maxAttempts: number;
  /** Ceiling of the first retry's jittered wait, in ms. @default 200 */
  readonly baseDelayMs: number;
  /** Ceiling of any jittered wait, in ms. @default 5000 */
  readonly maxDelayMs: number;
}

/** The client's retry policy unless told otherwise. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

/** What is known after a failed attempt. */
export interface FailedAttempt {
  /** Attempts made so far, the failed one included. */
  readonly attempts: number;
  readonly error: TokenVendingError;
  /** The answer's `Retry-After`, in ms. */
  readonly retryAfterMs: number | undefined;
  /** Time left before the call's deadline, in ms. */
  readonly remainingMs: number;
}

/** The wait before the next attempt, in ms, or `undefined` to stop and throw the error. */
export function retryDelayMs(
  policy: RetryPolicy,
  failed: FailedAttempt,
  random: () => number,
): number | undefined {
  if (!failed.error.retryable || failed.attempts >= policy.maxAttempts) return undefined;
  const delay =
    failed.retryAfterMs ??
    fullJitterMs(failed.attempts, policy.baseDelayMs, policy.maxDelayMs, random);
  return delay < failed.remainingMs ? delay : undefined;
}
