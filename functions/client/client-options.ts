/**
 * The options of `TokenVendingClient` and of its calls, and their checks. An option out of its
 * range is the caller's mistake, found where it is given (the constructor, `getToken`,
 * `invalidate`) and the same whatever the client holds in memory: a {@link TokenVendingError}
 * with code `invalid_option`, before any request.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { MAX_MIN_VALIDITY_SECONDS, MIN_VALIDITY_RULE } from "../common/min-validity.js";
import { TokenVendingError } from "./errors.js";
import type { RetryPolicy } from "./retry-policy.js";

/** Options of `TokenVendingClient`. */
export interface TokenVendingClientOptions {
  /**
   * The API's base URL as the stack outputs it (stage included), or the local server's: `https://`,
   * or `http://` only for 127.0.0.1, localhost and [::1].
   */
  readonly url: string;
  /** Region to sign for. @default from the URL, else AWS_REGION */
  readonly region?: string;
  /** @default the default AWS credential chain (environment, SSO, profiles, web identity, IMDS, ECS) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Longest time a call takes, attempts and waits between them included. @default 10000 */
  readonly timeoutMs?: number;
  /**
   * Longest wait for one answer to a `GET`; a stalled attempt is abandoned and tried again on a
   * new connection while the call has time. A `DELETE` is sent once, so its one attempt may use
   * the call's whole time whatever this says. @default half the call's timeoutMs
   */
  readonly attemptTimeoutMs?: number;
  /** Retry limits of a `GET`. @default `DEFAULT_RETRY_POLICY` */
  readonly retry?: Partial<RetryPolicy>;
  /** Injected by tests. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Epoch milliseconds; injected by tests. @default Date.now */
  readonly now?: () => number;
  /** Waits between attempts; injected by tests. @default setTimeout, cut short by the signal */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Source of jitter in [0, 1); injected by tests. @default Math.random */
  readonly random?: () => number;
}

/** Options of one call. */
export interface CallOptions {
  /** Cancels the call; it then rejects with `code: "aborted"`. */
  readonly signal?: AbortSignal;
  /** Longest time this call takes. @default the client's timeoutMs */
  readonly timeoutMs?: number;
}

/** Options of `TokenVendingClient.getToken`. */
export interface GetTokenOptions extends CallOptions {
  /** Seconds the token must stay valid. @default 300 */
  readonly minValidity?: number;
  /**
   * The scopes to ask for, space-separated or as a list; each set is its own cached token.
   * @default the profile's scope
   */
  readonly scope?: string | readonly string[];
  /**
   * Ask the service again, even when a token held in memory is still valid: for when a resource
   * server rejected that token. The service still decides whether its own cached token is valid.
   * @default false
   */
  readonly forceRefresh?: boolean;
}

/**
 * The longest time a timer can wait: `setTimeout` fires at once for anything longer (a signed
 * 32-bit count of milliseconds, about 24.8 days).
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** @throws {TokenVendingError} `invalid_option` naming the first option out of its range. */
export function checkClientOptions(options: TokenVendingClientOptions): void {
  const { region } = options;
  if (region !== undefined && (typeof region !== "string" || region === "")) {
    throw invalidOption(`region must be a region name such as eu-west-1, not ${show(region)}`);
  }
  if (options.timeoutMs !== undefined) checkTime("timeoutMs", options.timeoutMs);
  if (options.attemptTimeoutMs !== undefined)
    checkTime("attemptTimeoutMs", options.attemptTimeoutMs);
  const retry = options.retry ?? {};
  if (
    retry.maxAttempts !== undefined &&
    !isWholeNumber(retry.maxAttempts, 1, Number.MAX_SAFE_INTEGER)
  ) {
    throw invalidOption(
      `retry.maxAttempts must be a whole number of at least 1, not ${show(retry.maxAttempts)}`,
    );
  }
  for (const name of ["baseDelayMs", "maxDelayMs"] as const) {
    const value = retry[name];
    if (value !== undefined && !isWholeNumber(value, 0, MAX_TIMER_MS)) {
      throw invalidOption(
        `retry.${name} must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, not ${show(value)}`,
      );
    }
  }
}

/** @throws {TokenVendingError} `invalid_option` naming the first option out of its range. */
export function checkCallOptions(options: CallOptions): void {
  if (options.timeoutMs !== undefined) checkTime("timeoutMs", options.timeoutMs);
  // `null` is no signal, as `fetch` takes it.
  const signal: unknown = options.signal;
  if (signal !== undefined && signal !== null && !isAbortSignal(signal)) {
    throw invalidOption(`signal must be an AbortSignal, not ${show(signal)}`);
  }
}

/** @throws {TokenVendingError} `invalid_option` naming the first option out of its range. */
export function checkGetTokenOptions(options: GetTokenOptions): void {
  checkCallOptions(options);
  const { minValidity, scope, forceRefresh } = options;
  if (forceRefresh !== undefined && typeof forceRefresh !== "boolean") {
    throw invalidOption(`forceRefresh must be true or false, not ${show(forceRefresh)}`);
  }
  if (minValidity !== undefined && !isWholeNumber(minValidity, 0, MAX_MIN_VALIDITY_SECONDS)) {
    throw invalidOption(`minValidity must be ${MIN_VALIDITY_RULE}, not ${show(minValidity)}`);
  }
  const isScope =
    scope === undefined ||
    typeof scope === "string" ||
    (Array.isArray(scope) && scope.every((s: unknown) => typeof s === "string"));
  if (!isScope) {
    throw invalidOption("scope must be a space-separated string or a list of strings");
  }
}

function checkTime(name: string, value: number): void {
  if (!isWholeNumber(value, 1, MAX_TIMER_MS)) {
    throw invalidOption(
      `${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, not ${show(value)}`,
    );
  }
}

// By its shape rather than `instanceof`, so a signal of another realm (a VM context, a polyfill)
// still counts.
function isAbortSignal(value: unknown): value is AbortSignal {
  const signal = value as Partial<AbortSignal> | null;
  return (
    typeof signal === "object" &&
    signal !== null &&
    typeof signal.aborted === "boolean" &&
    typeof signal.addEventListener === "function" &&
    typeof signal.removeEventListener === "function"
  );
}

function isWholeNumber(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

// A number as written in code; anything else by its type, never its content.
function show(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}

function invalidOption(description: string): TokenVendingError {
  return new TokenVendingError({ code: "invalid_option", description });
}
