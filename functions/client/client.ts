/**
 * `TokenVendingClient`: the callers' side of the API. Signs with the default AWS credential chain,
 * reuses a token (per profile and scope set) until it falls below `minValidity`, shares one
 * request among concurrent callers, never waits longer than `timeoutMs`, and retries what may
 * succeed a moment later (`retry-policy.ts`). `invalidate` sends the admin `DELETE`.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import type { TokenResponse } from "../common/api.js";
import { DEFAULT_MIN_VALIDITY_SECONDS } from "../common/min-validity.js";
import { parseApiUrl } from "./api-url.js";
import { abortableSleep, CallDeadline } from "./call-deadline.js";
import {
  type CallOptions,
  checkCallOptions,
  checkClientOptions,
  checkGetTokenOptions,
  type GetTokenOptions,
  type TokenVendingClientOptions,
} from "./client-options.js";
import { TokenVendingError } from "./errors.js";
import { type ApiAnswer, type RequestSigner, sendRequest, tokenOf } from "./request.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from "./retry-policy.js";
import { SharedWork } from "./shared-work.js";
import { regionFor } from "./signing.js";

export type { CallOptions, GetTokenOptions, TokenVendingClientOptions } from "./client-options.js";
export type { TokenResponse };

interface Held {
  readonly body: TokenResponse;
  /** Epoch ms, from `expires_in` at receipt. */
  readonly expiresAt: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Gets tokens from the token-vending API. One instance per process; it is safe to share.
 * @throws {InvalidApiUrlError} from the constructor, for a URL that is neither `https://` nor
 *   `http://` on a loopback host, or whose region it cannot tell.
 * @throws {TokenVendingError} `invalid_option` from the constructor, for an option out of range.
 */
export class TokenVendingClient {
  readonly #base: URL;
  readonly #signer: RequestSigner;
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #retry: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  /** Profile, then normalised scope set, to the token held for it. */
  readonly #held = new Map<string, Map<string, Held>>();
  /**
   * Per profile, how many invalidations have begun or ended: a token asked for before the latest
   * one is returned to its callers but never kept, and later callers do not join its request.
   */
  readonly #generations = new Map<string, number>();
  readonly #requests = new SharedWork<string, Held>();

  constructor(options: TokenVendingClientOptions) {
    checkClientOptions(options);
    const url = parseApiUrl(options.url);
    if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`;
    this.#base = url;
    this.#now = options.now ?? Date.now;
    this.#signer = {
      region: regionFor(url, options.region),
      credentials: options.credentials ?? defaultProvider(),
      now: this.#now,
    };
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
  }

  /**
   * The profile's token, valid for at least `minValidity` seconds: the one held in memory while it
   * is (unless `forceRefresh`), else a new answer from the service (shared by concurrent callers).
   * @throws {TokenVendingError} with a stable `code`, `status`, `error`, `retryable` and
   *   `request_id`; `invalid_option` for an option out of its range, whatever memory holds.
   */
  async getToken(profile: string, options: GetTokenOptions = {}): Promise<TokenResponse> {
    checkGetTokenOptions(options);
    const minValidity = options.minValidity ?? DEFAULT_MIN_VALIDITY_SECONDS;
    const scope = normaliseScope(options.scope);
    const held = this.#held.get(profile)?.get(scope);
    if (!options.forceRefresh && held && this.#validFor(held, minValidity)) {
      return this.#withRemaining(held);
    }
    const call = this.#callOf(options);
    try {
      const ask = { profile, scope, minValidity, forced: options.forceRefresh === true };
      let fetched = await this.#sharedGet(ask, call);
      // A shared request made for a smaller minValidity may not satisfy this caller.
      if (!this.#validFor(fetched, minValidity)) fetched = await this.#sharedGet(ask, call);
      return this.#withRemaining(fetched);
    } finally {
      call.dispose();
    }
  }

  /**
   * Drops the profile's cached tokens at the service (`DELETE /tokens/{profile}`, admin callers
   * only: every scope set, and a revocation at CyberArk for a profile with an `applicationId`) and
   * every copy this client holds. Sent once: a `DELETE` is not retried.
   * @throws {TokenVendingError} as {@link getToken} does.
   */
  async invalidate(profile: string, options: CallOptions = {}): Promise<void> {
    checkCallOptions(options);
    this.#drop(profile);
    const call = this.#callOf(options);
    try {
      const answer = await this.#send("DELETE", this.#tokenUrl(profile), call.signal, call);
      if (answer.status < 200 || answer.status > 299) throw answer.error();
    } finally {
      // A token asked for while the DELETE was on its way may predate it.
      this.#drop(profile);
      call.dispose();
    }
  }

  #callOf(options: CallOptions): CallDeadline {
    return new CallDeadline(options.timeoutMs ?? this.#timeoutMs, options.signal, this.#now());
  }

  #drop(profile: string): void {
    this.#held.delete(profile);
    this.#generations.set(profile, this.#generation(profile) + 1);
  }

  #generation(profile: string): number {
    return this.#generations.get(profile) ?? 0;
  }

  #validFor(held: Held, minValidity: number): boolean {
    return held.expiresAt - this.#now() >= Math.max(1, minValidity) * 1000;
  }

  // `expires_in` counts from the moment the body is returned, not from when the service sent it.
  #withRemaining(held: Held): TokenResponse {
    return {
      ...held.body,
      expires_in: Math.max(0, Math.floor((held.expiresAt - this.#now()) / 1000)),
    };
  }

  // Concurrent callers of one profile and scope set share one request. A forced refresh joins
  // only other forced refreshes: an ordinary request already on its way may bring back the very
  // token its caller saw rejected.
  #sharedGet(ask: Ask, call: CallDeadline): Promise<Held> {
    const generation = this.#generation(ask.profile);
    const key = JSON.stringify([ask.forced, generation, ask.profile, ask.scope]);
    return this.#requests.run(
      key,
      (signal) => this.#getWithRetries(ask, generation, signal, call),
      call.signal,
    );
  }

  async #getWithRetries(
    ask: Ask,
    generation: number,
    signal: AbortSignal,
    call: CallDeadline,
  ): Promise<Held> {
    const url = this.#tokenUrl(ask.profile);
    url.searchParams.set("min_validity", String(ask.minValidity));
    if (ask.scope !== "") url.searchParams.set("scope", ask.scope);
    for (let attempts = 1; ; attempts += 1) {
      let failure: TokenVendingError;
      let retryAfterMs: number | undefined;
      try {
        const answer = await this.#send("GET", url, signal, call);
        if (answer.status === 200) return this.#keep(ask, generation, tokenOf(answer));
        failure = answer.error();
        retryAfterMs = answer.retryAfterMs;
      } catch (error) {
        if (!(error instanceof TokenVendingError) || signal.aborted) throw error;
        failure = error;
      }
      const remainingMs = call.deadline - this.#now();
      const delay = retryDelayMs(
        this.#retry,
        { attempts, error: failure, retryAfterMs, remainingMs },
        this.#random,
      );
      if (delay === undefined) throw failure;
      await this.#sleep(delay, signal);
    }
  }

  #keep(ask: Ask, generation: number, body: TokenResponse): Held {
    const held = { body, expiresAt: this.#now() + body.expires_in * 1000 };
    if (this.#generation(ask.profile) !== generation) return held;
    const byScope = this.#held.get(ask.profile) ?? new Map<string, Held>();
    byScope.set(ask.scope, held);
    this.#held.set(ask.profile, byScope);
    return held;
  }

  #tokenUrl(profile: string): URL {
    return new URL(`tokens/${encodeURIComponent(profile)}`, this.#base);
  }

  // A GET's attempt may take the client's attemptTimeoutMs (by default half the call's time, so a
  // stalled connection is abandoned and tried once more on a new one), never past the deadline.
  // A DELETE is sent once: abandoning its one attempt early would only end the call early, so it
  // may use the whole time. An attempt that may last until the deadline gets a timer of the
  // call's whole time, which never fires before the call's own: the call then times out naming
  // the time it was given, not what was left of it when the request went out.
  #send(
    method: "GET" | "DELETE",
    url: URL,
    signal: AbortSignal,
    call: CallDeadline,
  ): Promise<ApiAnswer> {
    const callMs = call.deadline - call.start;
    const attemptMs =
      method === "DELETE" ? callMs : (this.#attemptTimeoutMs ?? Math.ceil(callMs / 2));
    const attemptTimeoutMs = attemptMs < call.deadline - this.#now() ? attemptMs : callMs;
    return sendRequest({
      method,
      url,
      signal,
      attemptTimeoutMs,
      signer: this.#signer,
      fetch: this.#fetch,
    });
  }
}

interface Ask {
  readonly profile: string;
  /** Normalised: see {@link normaliseScope}. */
  readonly scope: string;
  readonly minValidity: number;
  readonly forced: boolean;
}

/** A scope set as one string: deduplicated, sorted, space-separated; `""` for none. */
export function normaliseScope(scope: string | readonly string[] | undefined): string {
  const scopes = typeof scope === "string" ? scope.split(" ") : (scope ?? []);
  return [...new Set(scopes.filter((s) => s !== ""))].sort().join(" ");
}
