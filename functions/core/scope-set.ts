/**
 * Scope sets: what a caller asks CyberArk to put in a token, in one canonical form.
 *
 * A scope set is its scope-tokens (RFC 6749 section 3.3) deduplicated, sorted and joined by one
 * space, so `b a a` and `a b` are the same set and share one cached token. `""` is the empty set:
 * no `scope` is sent. Every cache entry of a profile (memory, table item, lease, single flight,
 * renewal) is per scope set.
 */

import { createHash } from "node:crypto";

/** One scope-token: printable ASCII but space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/** The most scopes a profile's `scopes` ceiling (or one ask) may hold. */
export const MAX_SCOPES = 16;

/** A canonical scope set; build one with {@link scopeSetOf} or {@link parseScopeSet}. */
export type ScopeSet = string & { readonly __scopeSet: unique symbol };

/** The empty scope set: no `scope` form field is sent. */
export const NO_SCOPES = "" as ScopeSet;

/** The canonical set of some scope-tokens (already checked with {@link SCOPE_TOKEN}). */
export function scopeSetOf(scopes: Iterable<string>): ScopeSet {
  return [...new Set(scopes)].sort().join(" ") as ScopeSet;
}

/** The scope-tokens of a set, in order. */
export function scopesOf(set: ScopeSet): string[] {
  return set === "" ? [] : set.split(" ");
}

/**
 * Parses a space-separated ask (a `scope` query value, a profile's default `scope`).
 * Returns a problem sentence instead when a scope is not a scope-token or there are too many.
 */
export function parseScopeSet(text: string): ScopeSet | { readonly problem: string } {
  const scopes = text.split(" ").filter((scope) => scope !== "");
  const bad = scopes.find((scope) => !SCOPE_TOKEN.test(scope));
  if (bad !== undefined) {
    return {
      problem: 'each scope must be 1 to 128 printable ASCII characters other than space, " and \\',
    };
  }
  const set = scopeSetOf(scopes);
  if (scopesOf(set).length > MAX_SCOPES) {
    return { problem: `at most ${MAX_SCOPES} scopes may be asked at once` };
  }
  return set;
}

/** The scopes of `set` that `ceiling` does not hold, in order (empty: the set lies within it). */
export function scopesOutside(set: ScopeSet, ceiling: ReadonlySet<string>): string[] {
  return scopesOf(set).filter((scope) => !ceiling.has(scope));
}

/**
 * The name of a scope set in the profile's record: `-` for the empty set, else the base64url
 * SHA-256 of the set, so a name stays bounded whatever the ask.
 */
export function setTag(set: ScopeSet): string {
  return set === NO_SCOPES ? "-" : createHash("sha256").update(set).digest("base64url");
}
