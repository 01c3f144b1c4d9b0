/**
 * Never broader than asked: what a CyberArk answer grants is held to what the refresh asked for.
 *
 * A grant naming a scope that was not asked is unusable (not served, not cached): a tenant or an
 * app configured to add scopes must not hand a caller more than its ceiling allowed it to ask. A
 * narrower grant is served, and its `scope` says what was granted. An answer without `scope` is
 * served as it always was (CyberArk names none for some apps). An empty ask sends no `scope`, so
 * the app grants its own default, which nothing here can judge: that is served too.
 */
import { NO_SCOPES, type ScopeSet, scopeSetOf, scopesOf, scopesOutside } from "./scope-set.js";

/** The scopes `granted` (a grant's `scope`, as received) names that `asked` does not, in order. */
export function grantedBeyond(asked: ScopeSet, granted: string | undefined): string[] {
  if (asked === NO_SCOPES || granted === undefined) return [];
  const names = granted.split(" ").filter((scope) => scope !== "");
  return scopesOutside(scopeSetOf(names), new Set(scopesOf(asked)));
}
