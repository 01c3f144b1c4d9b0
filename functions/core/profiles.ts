/**
 * The profiles file: its types and its validation.
 *
 * The same `parseProfilesConfig` runs at `cdk synth` and at function start-up, so a file that
 * deploys is a file the function accepts. Every problem is reported, one line each, naming the
 * profile and the field, rather than stopping at the first.
 */
import { LOOPBACK_HOSTS } from "../common/loopback.js";
import { isRecord } from "../common/records.js";
import type { AllowedCaller, CallerPattern } from "./callers.js";
import type { ClientAuth } from "./ports.js";
import {
  defaultScopesOf,
  parseAdminCaller,
  parseAllowedCallers,
  parseProfileCeiling,
} from "./profile-scopes.js";
import { parseScopeSet, type ScopeSet } from "./scope-set.js";

/** How the client credentials travel to CyberArk (declared with the ports that carry them). */
export type { ClientAuth } from "./ports.js";

/** One validated profile. */
export interface Profile {
  readonly name: string;
  /** The tenant's origin, normalised (`https://abc1234.id.cyberark.cloud`). */
  readonly tenantUrl: string;
  readonly secretId: string;
  /** A custom OAuth2 application; absent: the tenant's platform tokens (see `cyberark-endpoints.ts`). */
  readonly applicationId?: string;
  readonly scope?: string;
  /** The default ask: `scope`, as a canonical scope set (empty when there is none). */
  readonly defaultScopes: ScopeSet;
  /**
   * The most a caller may ask for (`scopes`, custom-app profiles only), canonical.
   * @default absent: callers get exactly `defaultScopes` (see `scope-ceilings.ts`)
   */
  readonly scopes?: ScopeSet;
  /** @default "body" */
  readonly clientAuth: ClientAuth;
  /** Who may get a token, each with its own scope ceiling when the entry names one. */
  readonly allowedCallers: readonly AllowedCaller[];
  /**
   * Keep a valid token of this profile in the table at all times (scheduled renewal).
   * @default false
   */
  readonly prewarm: boolean;
}

/** The whole validated file. */
export interface ProfilesConfig {
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly adminCallers: readonly CallerPattern[];
}

/** Options of {@link parseProfilesConfig}. */
export interface ParseOptions {
  /**
   * Accept `http://` tenants on loopback hosts. Only the local server sets this.
   * @default false
   */
  readonly allowLoopbackHttp?: boolean;
}

/** Thrown when the file is invalid; `problems` holds one line per problem. */
export class ProfilesConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid profiles configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ProfilesConfigError";
    this.problems = problems;
  }
}

/** Profile names as the contract defines them; they appear in URLs and DynamoDB keys. */
export const PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
// A leading letter or digit: `.` and `..` would otherwise name another path of the tenant.
const APPLICATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// RFC 6749 scope-token characters, space-separated.
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;
const SECRET_ID = /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@-]{1,512}$/;
const PROFILE_FIELDS = new Set([
  "tenantUrl",
  "secretId",
  "applicationId",
  "scope",
  "scopes",
  "clientAuth",
  "allowedCallers",
  "prewarm",
]);

/**
 * Validates a parsed profiles file.
 * @throws {ProfilesConfigError} with one line per problem.
 */
export function parseProfilesConfig(input: unknown, options: ParseOptions = {}): ProfilesConfig {
  const problems: string[] = [];
  if (!isRecord(input)) throw new ProfilesConfigError(["the file must hold a JSON object"]);

  for (const key of Object.keys(input)) {
    if (key !== "profiles" && key !== "adminCallers")
      problems.push(`unknown top-level field "${key}"`);
  }
  const profiles = new Map<string, Profile>();
  if (!isRecord(input.profiles)) {
    problems.push('"profiles" must be an object of profile name to profile');
  } else {
    for (const [name, raw] of Object.entries(input.profiles)) {
      const profile = parseProfile(name, raw, options, (field, problem) =>
        problems.push(`profile "${name}"${field ? ` field "${field}"` : ""}: ${problem}`),
      );
      if (profile) profiles.set(name, profile);
    }
  }
  const adminCallers = parseCallerList(input.adminCallers, (problem) =>
    problems.push(`"adminCallers" ${problem}`),
  );

  if (problems.length > 0) throw new ProfilesConfigError(problems);
  return { profiles, adminCallers };
}

type Report = (field: string | undefined, problem: string) => void;

function parseProfile(
  name: string,
  raw: unknown,
  options: ParseOptions,
  reportProblem: Report,
): Profile | undefined {
  let problemCount = 0;
  const report: Report = (field, problem) => {
    problemCount += 1;
    reportProblem(field, problem);
  };
  if (!PROFILE_NAME.test(name)) {
    report(undefined, "the name must match ^[a-z0-9][a-z0-9-]{0,62}$");
  }
  if (!isRecord(raw)) {
    report(undefined, "must be an object");
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!PROFILE_FIELDS.has(key)) report(key, "is not a known field");
  }

  const tenantUrl = parseTenantUrl(raw.tenantUrl, options, (problem) =>
    report("tenantUrl", problem),
  );
  if (typeof raw.secretId !== "string" || !SECRET_ID.test(raw.secretId)) {
    report("secretId", "must be a Secrets Manager secret name or ARN");
  }
  const applicationId = optionalString(raw, "applicationId", APPLICATION_ID, report);
  const scope = optionalString(raw, "scope", SCOPE, report);
  // The default is an ask like any other: the same bounds as a `scope` query's.
  const defaultAsk = scope === undefined ? undefined : parseScopeSet(scope);
  if (typeof defaultAsk === "object") report("scope", defaultAsk.problem);
  const clientAuth = raw.clientAuth ?? "body";
  if (clientAuth !== "body" && clientAuth !== "basic") {
    report("clientAuth", 'must be "body" or "basic"');
  }
  const ceiling = parseProfileCeiling(raw, scope, report);
  const allowedCallers = parseAllowedCallers(raw.allowedCallers, ceiling, (problem) =>
    report("allowedCallers", problem),
  );
  const prewarm = raw.prewarm ?? false;
  if (typeof prewarm !== "boolean") report("prewarm", "must be true or false");

  if (problemCount > 0) return undefined;
  return {
    name,
    tenantUrl: tenantUrl ?? "",
    secretId: raw.secretId as string,
    ...(applicationId === undefined ? {} : { applicationId }),
    ...(scope === undefined ? {} : { scope }),
    defaultScopes: defaultScopesOf(scope),
    ...(ceiling.scopes === undefined ? {} : { scopes: ceiling.scopes }),
    clientAuth: clientAuth as ClientAuth,
    allowedCallers,
    prewarm: prewarm === true,
  };
}

function optionalString(
  raw: Record<string, unknown>,
  field: string,
  pattern: RegExp,
  report: Report,
): string | undefined {
  const value = raw[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !pattern.test(value)) {
    report(field, `must be a string matching ${pattern.source}`);
    return undefined;
  }
  return value;
}

function parseTenantUrl(
  value: unknown,
  options: ParseOptions,
  report: (problem: string) => void,
): string | undefined {
  if (typeof value !== "string" || !URL.canParse(value)) {
    report("must be an https:// URL such as https://abc1234.id.cyberark.cloud");
    return undefined;
  }
  const url = new URL(value);
  const loopbackHttp =
    url.protocol === "http:" &&
    options.allowLoopbackHttp === true &&
    LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !loopbackHttp) {
    report(
      options.allowLoopbackHttp
        ? "must use https:// (http:// only for loopback hosts)"
        : "must use https:// (http:// is accepted only by the local server, for loopback hosts)",
    );
    return undefined;
  }
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== "/" && url.pathname !== "")
  ) {
    report("must be an origin only: no path, query, fragment or credentials");
    return undefined;
  }
  return url.origin;
}

function parseCallerList(value: unknown, report: (problem: string) => void): CallerPattern[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    report("must be an array of account IDs and IAM role or user ARNs");
    return [];
  }
  const patterns: CallerPattern[] = [];
  value.forEach((entry, index) => {
    const parsed = parseAdminCaller(entry);
    if (typeof parsed === "string") report(`entry ${index} (${JSON.stringify(entry)}) ${parsed}`);
    else patterns.push(parsed);
  });
  return patterns;
}
