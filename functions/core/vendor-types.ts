/**
 * The vendor's requests and results, as the handler and the refresher see them.
 */
import type { Caller } from "./callers.js";
import type { ScopeSet } from "./scope-set.js";
import type { CachedToken } from "./token.js";

/** Where a returned token came from, for the audit line and the metrics. */
export type CacheLevel = "memory" | "table" | "upstream";

/** A `GET /tokens/{profile}`, already parsed. */
export interface TokenQuery {
  readonly profile: string;
  readonly caller: Caller | undefined;
  readonly minValiditySeconds: number;
  /** The caller's ask, canonical; absent: the profile's default (`Profile.defaultScopes`). */
  readonly scope?: ScopeSet;
}

/** A vended token, where it came from, and the scope set asked for it. */
export interface VendedToken {
  readonly token: CachedToken;
  readonly cache: CacheLevel;
  /** The scope set asked (the caller's, or the profile's default); `token.scope` is the grant. */
  readonly asked: ScopeSet;
}

/** A `DELETE /tokens/{profile}`, already parsed. */
export interface InvalidateQuery {
  readonly profile: string;
  readonly caller: Caller | undefined;
}

/** What one scheduled renewal run did, in counts only: it never carries a token. */
export interface RenewalReport {
  /** `prewarm` profiles whose token was renewed. */
  renewed: number;
  /** `prewarm` profiles whose table token had more than half its lifetime left. */
  fresh: number;
  /** `prewarm` profiles another instance was refreshing. */
  busy: number;
  /** `prewarm` profiles whose renewal failed (logged; retried on the next run). */
  failed: number;
}
