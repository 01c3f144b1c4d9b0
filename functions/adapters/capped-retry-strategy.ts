/**
 * The retry strategy of the deployed function's AWS SDK clients: at most `AWS_MAX_ATTEMPTS`
 * attempts, and a jittered pause before a retry of at most `AWS_MAX_BACKOFF_MS`, whatever the
 * error. The SDK's standard strategy pauses up to a second before retrying a throttling error
 * (more when the service hints a `Retry-After`), which the timing budget in `timing.ts` cannot
 * afford: a DynamoDB throttled twice would push a request past the function timeout. The table is
 * a cache, and a call that still fails counts as a miss, so waiting longer buys nothing.
 *
 * Errors are retried as the standard strategy retries them: transient, throttling and server
 * errors; never a client error.
 */
import { AWS_MAX_ATTEMPTS, AWS_MAX_BACKOFF_MS } from "../core/timing.js";

/** The SDK's retry token (`RetryToken` of `@smithy/types`), structurally. */
export interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/** What the SDK tells the strategy of a failed attempt (`RetryErrorInfo`), as far as it is used. */
export interface RetryErrorInfo {
  readonly errorType: string;
}

const RETRYABLE = new Set(["TRANSIENT", "THROTTLING", "SERVER_ERROR"]);

function token(retryCount: number, retryDelay: number): RetryToken {
  return { getRetryCount: () => retryCount, getRetryDelay: () => retryDelay };
}

/** A `RetryStrategyV2` for the SDK's `retryStrategy` client option. */
export class CappedRetryStrategy {
  readonly #random: () => number;

  /** @param random jitter source in [0, 1). @default Math.random */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  async acquireInitialRetryToken(_scope: string): Promise<RetryToken> {
    return token(0, 0);
  }

  /**
   * Allows the next attempt after a pause the SDK waits out (the token's delay).
   * @throws {Error} when no attempt is left or the error is not worth retrying (the SDK then
   * throws the call's own error).
   */
  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount() + 1;
    if (retries >= AWS_MAX_ATTEMPTS || !RETRYABLE.has(info.errorType)) {
      throw new Error("no retry left for this AWS call");
    }
    return token(retries, Math.floor(this.#random() * AWS_MAX_BACKOFF_MS));
  }

  recordSuccess(_token: RetryToken): void {}
}
