/**
 * Scope ceilings: which scope set a caller's request asks CyberArk for, and whether it may.
 *
 * A profile's ceiling is its `scopes`, or, without them, exactly its default set: callers of such
 * a profile get the default `scope` and nothing else, not even a part of it. A caller's ceiling is
 * the union, over the `allowedCallers` entries it matches, of each entry's own `scopes` (or the
 * profile's ceiling, for a plain pattern): two entries that both name a caller each grant what
 * they say, and neither takes away what the other grants.
 *
 * The ask is the caller's `scope` query, or the profile's default when it names none, and it is
 * checked the same way in both cases: a caller whose own ceiling lacks a default scope must ask
 * explicitly rather than be handed more than its entry says. An empty ask of a profile with
 * `scopes` is refused: CyberArk, asked for no scope, grants the app's own defaults, which no
 * ceiling describes (the profiles file requires a default `scope` beside `scopes`; this is the
 * second lock).
 */
import { type AllowedCaller, type Caller, callerMatches } from "./callers.js";
import { AccessDeniedError } from "./errors.js";
import type { Profile } from "./profiles.js";
import { NO_SCOPES, type ScopeSet, scopesOf, scopesOutside } from "./scope-set.js";

/** The most any caller of `profile` may ask for: its `scopes`, or else its default set. */
export function profileCeiling(profile: Profile): ScopeSet {
  return profile.scopes ?? profile.defaultScopes;
}

/**
 * The scopes `caller` may ask of `profile`: the union of the ceilings of the entries it matches.
 * `undefined` when it matches none (it is not allowed at all).
 */
export function callerCeiling(
  profile: Profile,
  caller: Caller | undefined,
): ReadonlySet<string> | undefined {
  if (!caller) return undefined;
  let ceiling: Set<string> | undefined;
  for (const entry of profile.allowedCallers) {
    if (!callerMatches(caller, entry)) continue;
    ceiling ??= new Set();
    for (const scope of scopesOf(entryCeiling(profile, entry))) ceiling.add(scope);
  }
  return ceiling;
}

/**
 * The scope set this request asks for: `asked`, or the profile's default when `undefined`.
 * @throws {AccessDeniedError} when the caller matches none of the profile's callers, or the ask
 *   is empty on a profile with `scopes`, or holds a scope outside the caller's ceiling (the
 *   description names those scopes), or the profile has no `scopes` and the ask is not exactly
 *   its default set.
 */
export function askFor(profile: Profile, caller: Caller | undefined, asked?: ScopeSet): ScopeSet {
  const ask = asked ?? profile.defaultScopes;
  const ceiling = callerCeiling(profile, caller);
  if (!ceiling) throw new AccessDeniedError(`caller is not allowed for profile "${profile.name}"`);
  if (profile.scopes !== undefined && ask === NO_SCOPES) {
    throw new AccessDeniedError(
      `caller asked no scope of profile "${profile.name}", which declares "scopes" but no default "scope"`,
      "This profile has no default scope: ask for a scope explicitly.",
    );
  }

  const outside = scopesOutside(ask, ceiling);
  if (outside.length > 0) {
    const named = `${outside.length === 1 ? "the scope" : "the scopes"} ${outside.map((scope) => `"${scope}"`).join(", ")}`;
    throw new AccessDeniedError(
      `caller may not ask for ${named} of profile "${profile.name}" (${asked === undefined ? "its default" : `asked "${ask}"`})`,
      asked === undefined
        ? `The caller may not ask for ${named} of this profile, which is its default: ask for a scope explicitly.`
        : `The caller may not ask for ${named} of this profile.`,
    );
  }
  // Without `scopes`, the tenant's app was configured for the default set only, so a narrower
  // token is not something this profile promises; and it would be one more cache entry.
  if (profile.scopes === undefined && ask !== profile.defaultScopes) {
    throw new AccessDeniedError(
      `caller asked "${ask}" of profile "${profile.name}", which declares no "scopes" and serves only its default "${profile.defaultScopes}"`,
      "This profile serves only its default scopes: ask without scope.",
    );
  }
  return ask;
}

function entryCeiling(profile: Profile, entry: AllowedCaller): ScopeSet {
  return entry.scopes ?? profileCeiling(profile);
}
