/**
 * Callers granted in CDK code (`grantGetToken`, `grantInvalidate`), which reach the function at
 * deploy time in one environment variable, beside the profiles file's own callers.
 *
 * The value is compact JSON: `{"profiles":{"<profile>":["<role ARN>",...]},"admin":["<role ARN>"]}`,
 * where a profile's entry may also be `{"caller":"<role ARN>","scopes":[...]}` (a caller granted
 * with its own scope ceiling), as in the profiles file's `allowedCallers`. Entries are checked
 * with the same parsers as the profiles file, against the profile's `scopes`; a profile the file
 * does not define is refused, so a grant can never create a profile.
 */

import { isRecord } from "../common/records.js";
import { FUNCTION_ENV } from "./function-environment.js";
import { parseAdminCaller, parseAllowedCallers } from "./profile-scopes.js";
import { type Profile, type ProfilesConfig, ProfilesConfigError } from "./profiles.js";

/** One granted caller of a profile: its role ARN, or that and its own scope ceiling. */
export type GrantedCaller =
  | string
  | { readonly caller: string; readonly scopes: readonly string[] };

/** The variable's shape, as the construct writes it. */
export interface GrantedCallers {
  /** Callers added to each profile's `allowedCallers`. */
  readonly profiles?: Readonly<Record<string, readonly GrantedCaller[]>>;
  /** Callers added to `adminCallers`. */
  readonly admin?: readonly string[];
}

/**
 * Merges the granted callers into the configuration; an absent or empty value changes nothing.
 * @throws {ProfilesConfigError} with one line per problem, each naming `variable`.
 */
export function withGrantedCallers(
  config: ProfilesConfig,
  value: string | undefined,
  variable: string = FUNCTION_ENV.grantedCallers,
): ProfilesConfig {
  if (value === undefined || value === "") return config;
  const problems: string[] = [];
  const report = (problem: string) => problems.push(`${variable}: ${problem}`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ProfilesConfigError([`${variable}: not valid JSON`]);
  }
  if (!isRecord(parsed)) throw new ProfilesConfigError([`${variable}: must be a JSON object`]);
  for (const key of Object.keys(parsed)) {
    if (key !== "profiles" && key !== "admin") report(`unknown field "${key}"`);
  }

  const profiles = new Map<string, Profile>(config.profiles);
  const granted = parsed.profiles ?? {};
  if (!isRecord(granted)) report('"profiles" must be an object of profile name to caller list');
  else {
    for (const [name, entries] of Object.entries(granted)) {
      const profile = profiles.get(name);
      // An unknown profile is reported once, not once more for each scoped entry.
      const ceiling = profile
        ? { declared: profile.scopes !== undefined, scopes: profile.scopes }
        : { declared: true };
      const callers = parseAllowedCallers(entries, ceiling, (problem) =>
        report(`profile "${name}" ${problem}`),
      );
      if (!profile) report(`profile "${name}" is not in the profiles file`);
      else
        profiles.set(name, { ...profile, allowedCallers: [...profile.allowedCallers, ...callers] });
    }
  }
  const admin = parseEntries(parsed.admin ?? [], (problem) => report(`"admin" ${problem}`));

  if (problems.length > 0) throw new ProfilesConfigError(problems);
  return { profiles, adminCallers: [...config.adminCallers, ...admin] };
}

function parseEntries(value: unknown, report: (problem: string) => void) {
  if (!Array.isArray(value)) {
    report("must be an array of IAM role or user ARNs");
    return [];
  }
  return value.flatMap((entry, index) => {
    const pattern = parseAdminCaller(entry);
    if (typeof pattern !== "string") return [pattern];
    report(`entry ${index} (${JSON.stringify(entry)}) ${pattern}`);
    return [];
  });
}
