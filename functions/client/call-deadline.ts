/**
 * The time a call of the client may take, and the caller's `AbortSignal`, as one signal: it fires
 * with a {@link TokenVendingError} (`timeout` or `aborted`) so whatever was waiting rejects with
 * the client's own typed error. Timers are the global `setTimeout`, so a caller's fake timers
 * drive them too.
 */
import { TokenVendingError } from "./errors.js";

/** One call's deadline and cancellation. Dispose of it when the call settles. */
export class CallDeadline {
  /** Epoch ms at which the call began. */
  readonly start: number;
  /** Epoch ms at which the call times out. */
  readonly deadline: number;
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #onCallerAbort = () => {
    this.#controller.abort(
      new TokenVendingError({
        code: "aborted",
        description: "the caller aborted the request",
        cause: this.#callerSignal?.reason,
      }),
    );
  };

  constructor(timeoutMs: number, callerSignal: AbortSignal | undefined, now: number) {
    this.start = now;
    this.deadline = now + timeoutMs;
    this.#timer = setTimeout(() => {
      this.#controller.abort(timedOut(timeoutMs, "the call"));
    }, timeoutMs);
    this.#callerSignal = callerSignal;
    if (callerSignal?.aborted) this.#onCallerAbort();
    else callerSignal?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  /** Fires when the call times out or the caller aborts; its `reason` is the typed error. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Stops the timer and lets go of the caller's signal. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#callerSignal?.removeEventListener("abort", this.#onCallerAbort);
  }
}

/** The error of a `timeout`: no answer to `what` within `timeoutMs`. */
export function timedOut(timeoutMs: number, what: string): TokenVendingError {
  return new TokenVendingError({
    code: "timeout",
    description: `no answer to ${what} within ${timeoutMs} ms`,
  });
}

/**
 * Waits `ms`, or rejects with the signal's reason as soon as it fires.
 * @default the client's wait between attempts.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    if (ms <= 0) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
