/**
 * The scope side of the profiles file: a profile's `scopes` (the most its callers may ask for)
 * and the `allowedCallers` entries that carry a narrower ceiling of their own.
 *
 * The same checks run on the profiles file (at synth and at start-up), on a `grantGetToken`
 * ceiling (at synth) and on the granted-callers variable (at start-up), so a ceiling that
 * deploys is a ceiling the function accepts. Each returns problem sentences rather than
 * throwing, so the file's parser can report every problem, one line each.
 */
import { isRecord } from "../common/records.js";
import { type AllowedCaller, type CallerPattern, parseCallerPattern } from "./callers.js";
import {
  MAX_SCOPES,
  NO_SCOPES,
  SCOPE_TOKEN,
  type ScopeSet,
  scopeSetOf,
  scopesOf,
} from "./scope-set.js";

/** Problem sentences, instead of a value. */
export interface Problems {
  readonly problems: readonly string[];
}

/** What a caller entry's own ceiling is checked against. */
export interface ProfileCeiling {
  /** Whether the profile declares `scopes` at all (valid or not). */
  readonly declared: boolean;
  /** The profile's `scopes`, when declared and valid. */
  readonly scopes?: ScopeSet | undefined;
}

/** Whether a parse returned problems rather than a value. */
export function isProblems(value: unknown): value is Problems {
  return isRecord(value) && Array.isArray(value.problems);
}

/**
 * Parses a `scopes` list: a non-empty array of distinct scope-tokens, at most {@link MAX_SCOPES}.
 * Distinct, not silently deduplicated: a repeated scope in a ceiling is most likely a typo of
 * another one, which the author wants to hear about.
 */
export function parseScopeList(value: unknown): ScopeSet | Problems {
  if (!Array.isArray(value) || value.length === 0) {
    return { problems: ["must be a non-empty array of scope names"] };
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  value.forEach((scope: unknown, index) => {
    if (typeof scope !== "string" || !SCOPE_TOKEN.test(scope)) {
      problems.push(
        `entry ${index} (${JSON.stringify(scope)}) is not a scope-token (1 to 128 printable ASCII characters other than space, " and \\)`,
      );
    } else if (seen.has(scope)) {
      problems.push(`entry ${index} (${JSON.stringify(scope)}) repeats an earlier entry`);
    }
    if (typeof scope === "string") seen.add(scope);
  });
  if (value.length > MAX_SCOPES) {
    problems.push(`holds ${value.length} scopes, more than the ${MAX_SCOPES} allowed`);
  }
  return problems.length > 0 ? { problems } : scopeSetOf(value as string[]);
}

/** One problem per scope of `set` that the profile's `scopes` do not hold. */
export function scopesNotIn(set: ScopeSet, ceiling: ScopeSet): string[] {
  const allowed = new Set(scopesOf(ceiling));
  return scopesOf(set)
    .filter((scope) => !allowed.has(scope))
    .map((scope) => `scope ${JSON.stringify(scope)} is not in the profile's "scopes"`);
}

/**
 * Parses a caller's own ceiling (an entry's `scopes`, a grant's `scopes`): a valid list, within
 * the profile's `scopes`. The profile must declare `scopes`; the caller checks that first, since
 * how to say so depends on where the ceiling was written.
 */
export function parseCallerScopes(value: unknown, ceiling: ProfileCeiling): ScopeSet | Problems {
  const set = parseScopeList(value);
  if (isProblems(set)) return { problems: set.problems.map((problem) => `"scopes" ${problem}`) };
  // The profile's own list is invalid: it is reported there, not once more for every caller.
  if (ceiling.scopes === undefined) return set;
  const outside = scopesNotIn(set, ceiling.scopes);
  return outside.length > 0 ? { problems: outside.map((problem) => `"scopes": ${problem}`) } : set;
}

/** A profile's default ask: its `scope`, canonical (empty when there is none). */
export function defaultScopesOf(scope: string | undefined): ScopeSet {
  return scope === undefined ? NO_SCOPES : scopeSetOf(scope.split(" "));
}

/**
 * Parses a profile's `scopes`: custom apps only (CyberArk's platform tokens take no narrowed
 * scope), and the default ask (`scope`) is required and must lie within them. Without a default,
 * a caller that names no scope would ask CyberArk for none, and the app would grant its own
 * defaults, which no caller's ceiling was ever checked against.
 */
export function parseProfileCeiling(
  raw: Record<string, unknown>,
  scope: string | undefined,
  report: (field: string, problem: string) => void,
): ProfileCeiling {
  if (raw.scopes === undefined) return { declared: false };
  if (raw.applicationId === undefined) {
    report(
      "scopes",
      'is allowed only on a custom-app profile (one with an "applicationId"); platform tokens are not narrowed by scope',
    );
    return { declared: true };
  }
  if (scope === undefined && raw.scope === undefined) {
    report(
      "scope",
      "is required when \"scopes\" is declared: it is what a caller that names no scope asks for (without it, CyberArk would grant the app's own defaults, beyond any caller's ceiling)",
    );
  }
  const scopes = parseScopeList(raw.scopes);
  if (isProblems(scopes)) {
    for (const problem of scopes.problems) report("scopes", problem);
    return { declared: true };
  }
  for (const problem of scopesNotIn(defaultScopesOf(scope), scopes)) report("scope", problem);
  return { declared: true, scopes };
}

/**
 * Parses one `adminCallers` entry: a plain pattern only. An admin invalidates; it gets no token,
 * so a ceiling there would mean nothing, and is refused rather than ignored.
 */
export function parseAdminCaller(entry: unknown): CallerPattern | string {
  return isRecord(entry)
    ? "must be a plain pattern string: scopes belong to a profile's allowedCallers, and an admin only invalidates"
    : parseCallerPattern(entry);
}

const ENTRY_FIELDS = new Set(["caller", "scopes"]);

/** Parses one `allowedCallers` entry: a pattern string, or `{ "caller", "scopes" }`. */
export function parseAllowedCaller(
  entry: unknown,
  ceiling: ProfileCeiling,
): AllowedCaller | Problems {
  if (typeof entry === "string") {
    const pattern = parseCallerPattern(entry);
    return typeof pattern === "string" ? { problems: [pattern] } : pattern;
  }
  if (!isRecord(entry)) {
    return {
      problems: ['must be a pattern string or { "caller": "<pattern>", "scopes": [...] }'],
    };
  }
  const problems: string[] = [];
  for (const key of Object.keys(entry)) {
    if (!ENTRY_FIELDS.has(key)) {
      problems.push(
        `has an unknown field ${JSON.stringify(key)} (an entry is a pattern or { "caller", "scopes" })`,
      );
    }
  }
  const pattern = entry.caller === undefined ? "is missing" : parseCallerPattern(entry.caller);
  if (typeof pattern === "string") problems.push(`"caller" ${pattern}`);
  let scopes: ScopeSet | undefined;
  if (entry.scopes === undefined) {
    problems.push(
      `"scopes" is missing (write the plain pattern for a caller with the profile's ceiling)`,
    );
  } else if (!ceiling.declared) {
    problems.push(
      'has "scopes" but the profile declares none (its callers can only get its default scope)',
    );
  } else {
    const parsed = parseCallerScopes(entry.scopes, ceiling);
    if (isProblems(parsed)) problems.push(...parsed.problems);
    else scopes = parsed;
  }
  if (problems.length > 0 || typeof pattern === "string" || scopes === undefined) {
    return { problems };
  }
  return { ...pattern, scopes };
}

/**
 * Parses a profile's `allowedCallers`, reporting each problem with the entry's index and what it
 * names (never more than the pattern as written).
 */
export function parseAllowedCallers(
  value: unknown,
  ceiling: ProfileCeiling,
  report: (problem: string) => void,
): AllowedCaller[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    report("must be an array of account IDs and IAM role or user ARNs");
    return [];
  }
  return value.flatMap((entry: unknown, index) => {
    const parsed = parseAllowedCaller(entry, ceiling);
    if (!isProblems(parsed)) return [parsed];
    const label = entryLabel(entry);
    for (const problem of parsed.problems) report(`entry ${index}${label} ${problem}`);
    return [];
  });
}

function entryLabel(entry: unknown): string {
  if (isRecord(entry)) {
    return typeof entry.caller === "string" ? ` (caller ${JSON.stringify(entry.caller)})` : "";
  }
  return ` (${JSON.stringify(entry)})`;
}
