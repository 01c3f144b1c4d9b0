/**
 * The options of `TokenVendingClient` and of its calls.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
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
