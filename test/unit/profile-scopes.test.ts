import { describe, expect, it } from "vitest";
import { ProfilesConfigError, parseProfilesConfig } from "../../functions/core/profiles.js";
import { MAX_SCOPES } from "../../functions/core/scope-set.js";

const tenantUrl = "https://abc1234.id.cyberark.cloud";
const READER = "arn:aws:iam::111122223333:role/report-job";
const DEPLOYER = "arn:aws:iam::111122223333:role/deploy-job";
const app = {
  tenantUrl,
  secretId: "cyberark/shared",
  applicationId: "deploy_api",
  scope: "read",
  scopes: ["read", "deploy"],
};

function problemsOf(profiles: Record<string, unknown>, adminCallers?: unknown): readonly string[] {
  try {
    parseProfilesConfig({ profiles, ...(adminCallers === undefined ? {} : { adminCallers }) });
  } catch (error) {
    if (error instanceof ProfilesConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("a profile's scopes (the most its callers may ask for)", () => {
  it("keeps the ceiling canonical and each caller entry's own ceiling beside its pattern", () => {
    const config = parseProfilesConfig({
      profiles: {
        shared: {
          ...app,
          scopes: ["read", "deploy", "audit"],
          allowedCallers: [READER, { caller: DEPLOYER, scopes: ["deploy", "read"] }],
        },
      },
    });
    const profile = config.profiles.get("shared");
    expect(profile?.scopes).toBe("audit deploy read");
    expect(profile?.defaultScopes).toBe("read");
    expect(profile?.allowedCallers).toHaveLength(2);
    expect(profile?.allowedCallers[0]?.scopes).toBeUndefined();
    expect(profile?.allowedCallers[1]).toMatchObject({ kind: "role", scopes: "deploy read" });
  });

  it("refuses scopes on a platform-token profile (no applicationId)", () => {
    const { applicationId: _, scope: __, ...platform } = app;
    expect(problemsOf({ p: platform })).toEqual([
      'profile "p" field "scopes": is allowed only on a custom-app profile (one with an "applicationId"); platform tokens are not narrowed by scope',
    ]);
  });

  it("refuses an empty, repeated, malformed or oversized list, one line per problem", () => {
    const tooMany = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `s${i}`);
    expect(
      problemsOf({
        empty: { ...app, scopes: [] },
        text: { ...app, scopes: "read deploy" },
        repeated: { ...app, scopes: ["read", "deploy", "read"] },
        malformed: { ...app, scopes: ["read", "two words", 7] },
        "too-many": { ...app, scopes: tooMany },
      }),
    ).toEqual([
      'profile "empty" field "scopes": must be a non-empty array of scope names',
      'profile "text" field "scopes": must be a non-empty array of scope names',
      'profile "repeated" field "scopes": entry 2 ("read") repeats an earlier entry',
      'profile "malformed" field "scopes": entry 1 ("two words") is not a scope-token (1 to 128 printable ASCII characters other than space, " and \\)',
      'profile "malformed" field "scopes": entry 2 (7) is not a scope-token (1 to 128 printable ASCII characters other than space, " and \\)',
      `profile "too-many" field "scopes": holds ${MAX_SCOPES + 1} scopes, more than the ${MAX_SCOPES} allowed`,
    ]);
  });

  it("requires a default scope beside scopes: without one, an ask of nothing gets the app's own defaults", () => {
    const { scope: _, ...noDefault } = app;
    expect(problemsOf({ p: noDefault })).toEqual([
      'profile "p" field "scope": is required when "scopes" is declared: it is what a caller that names no scope asks for (without it, CyberArk would grant the app\'s own defaults, beyond any caller\'s ceiling)',
    ]);
    // One line for the missing default, and the list's own problems beside it.
    expect(problemsOf({ p: { ...noDefault, scopes: [] } })).toEqual([
      'profile "p" field "scope": is required when "scopes" is declared: it is what a caller that names no scope asks for (without it, CyberArk would grant the app\'s own defaults, beyond any caller\'s ceiling)',
      'profile "p" field "scopes": must be a non-empty array of scope names',
    ]);
  });

  it("bounds a default scope like any ask, with or without scopes: no default a caller could not name", () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, n) => `s${n}`).join(" ");
    const long = "x".repeat(129);
    const platform = { tenantUrl, secretId: "cyberark/ci", allowedCallers: [READER] };
    expect(problemsOf({ wide: { ...platform, scope: many } })).toEqual([
      `profile "wide" field "scope": at most ${MAX_SCOPES} scopes may be asked at once`,
    ]);
    expect(problemsOf({ long: { ...platform, scope: long } })).toEqual([
      expect.stringMatching(/^profile "long" field "scope": each scope must be 1 to 128 /),
    ]);
  });

  it("refuses a default scope outside the profile's scopes, naming the scope", () => {
    expect(problemsOf({ p: { ...app, scope: "read admin" } })).toEqual([
      'profile "p" field "scope": scope "admin" is not in the profile\'s "scopes"',
    ]);
  });
});

describe("allowedCallers entries with their own ceiling", () => {
  it("refuses a caller's scope outside the profile's scopes, naming the entry and the scope", () => {
    expect(
      problemsOf({
        p: { ...app, allowedCallers: [READER, { caller: DEPLOYER, scopes: ["deploy", "admin"] }] },
      }),
    ).toEqual([
      'profile "p" field "allowedCallers": entry 1 (caller "arn:aws:iam::111122223333:role/deploy-job") "scopes": scope "admin" is not in the profile\'s "scopes"',
    ]);
  });

  it("refuses a caller entry with scopes on a profile without scopes", () => {
    const { scopes: _, ...noCeiling } = app;
    expect(
      problemsOf({ p: { ...noCeiling, allowedCallers: [{ caller: READER, scopes: ["read"] }] } }),
    ).toEqual([
      'profile "p" field "allowedCallers": entry 0 (caller "arn:aws:iam::111122223333:role/report-job") has "scopes" but the profile declares none (its callers can only get its default scope)',
    ]);
  });

  it("refuses unknown fields, a missing or bad caller, and empty or repeated caller scopes", () => {
    expect(
      problemsOf({
        p: {
          ...app,
          allowedCallers: [
            { caller: READER, scopes: ["read"], note: "x" },
            { scopes: ["read"] },
            { caller: "arn:aws:iam::1:role/x", scopes: ["read"] },
            { caller: READER },
            { caller: DEPLOYER, scopes: [] },
            { caller: DEPLOYER, scopes: ["deploy", "deploy"] },
            42,
          ],
        },
      }),
    ).toEqual([
      `profile "p" field "allowedCallers": entry 0 (caller "${READER}") has an unknown field "note" (an entry is a pattern or { "caller", "scopes" })`,
      'profile "p" field "allowedCallers": entry 1 "caller" is missing',
      'profile "p" field "allowedCallers": entry 2 (caller "arn:aws:iam::1:role/x") "caller" must be a 12-digit account ID or an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)',
      `profile "p" field "allowedCallers": entry 3 (caller "${READER}") "scopes" is missing (write the plain pattern for a caller with the profile's ceiling)`,
      `profile "p" field "allowedCallers": entry 4 (caller "${DEPLOYER}") "scopes" must be a non-empty array of scope names`,
      `profile "p" field "allowedCallers": entry 5 (caller "${DEPLOYER}") "scopes" entry 1 ("deploy") repeats an earlier entry`,
      'profile "p" field "allowedCallers": entry 6 (42) must be a pattern string or { "caller": "<pattern>", "scopes": [...] }',
    ]);
  });

  it("keeps adminCallers plain patterns: a caller entry with scopes there is an error", () => {
    expect(problemsOf({ p: app }, [{ caller: READER, scopes: ["read"] }])).toEqual([
      `"adminCallers" entry 0 ({"caller":"${READER}","scopes":["read"]}) must be a plain pattern string: scopes belong to a profile's allowedCallers, and an admin only invalidates`,
    ]);
  });

  it("does not report a caller's scopes against a profile scopes list that is itself invalid", () => {
    expect(
      problemsOf({
        p: {
          ...app,
          scopes: [],
          allowedCallers: [{ caller: READER, scopes: ["x"] }],
        },
      }),
    ).toEqual(['profile "p" field "scopes": must be a non-empty array of scope names']);
  });
});
