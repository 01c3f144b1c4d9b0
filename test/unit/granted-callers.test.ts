import { describe, expect, it } from "vitest";
import { isAllowed, parseCaller } from "../../functions/core/callers.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { ProfilesConfigError, parseProfilesConfig } from "../../functions/core/profiles.js";

const fileConfig = parseProfilesConfig({
  profiles: {
    "ci-deployer": {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "cyberark/ci-deployer",
      allowedCallers: ["arn:aws:iam::111122223333:role/ci-*"],
    },
    "reports-app": {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "cyberark/reports",
    },
  },
  adminCallers: ["arn:aws:iam::111122223333:role/platform-admin"],
});

const session = (role: string) => parseCaller(`arn:aws:sts::111122223333:assumed-role/${role}/s1`);

function problemsOf(value: string): readonly string[] {
  try {
    withGrantedCallers(fileConfig, value);
  } catch (error) {
    if (error instanceof ProfilesConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("callers granted in CDK code (GRANTED_CALLERS)", () => {
  it("leaves the configuration as it is when the variable is absent or empty", () => {
    expect(withGrantedCallers(fileConfig, undefined)).toBe(fileConfig);
    expect(withGrantedCallers(fileConfig, "")).toBe(fileConfig);
  });

  it("adds a granted role to the profile's allowed callers, beside the file's own callers", () => {
    const config = withGrantedCallers(
      fileConfig,
      JSON.stringify({
        profiles: { "reports-app": ["arn:aws:iam::111122223333:role/app/Reports-Fn-Role-1AB"] },
      }),
    );

    const reports = config.profiles.get("reports-app")?.allowedCallers ?? [];
    const ci = config.profiles.get("ci-deployer")?.allowedCallers ?? [];
    expect(isAllowed(session("Reports-Fn-Role-1AB"), reports)).toBe(true);
    expect(isAllowed(session("ci-runner"), reports)).toBe(false);
    expect(isAllowed(session("ci-runner"), ci)).toBe(true);
    expect(isAllowed(session("Reports-Fn-Role-1AB"), ci)).toBe(false);
  });

  it("adds a granted role to the admin callers, keeping the file's", () => {
    const config = withGrantedCallers(
      fileConfig,
      JSON.stringify({ admin: ["arn:aws:iam::111122223333:role/Ops-Role"] }),
    );

    expect(isAllowed(session("Ops-Role"), config.adminCallers)).toBe(true);
    expect(isAllowed(session("platform-admin"), config.adminCallers)).toBe(true);
  });

  it("refuses a profile the file does not define, so a grant cannot create one", () => {
    expect(
      problemsOf(JSON.stringify({ profiles: { nope: ["arn:aws:iam::111122223333:role/x"] } })),
    ).toEqual(['GRANTED_CALLERS: profile "nope" is not in the profiles file']);
  });

  it("refuses entries that are not caller patterns, naming the variable and the entry", () => {
    expect(
      problemsOf(JSON.stringify({ profiles: { "ci-deployer": ["role/x"] }, admin: "x" })),
    ).toEqual([
      'GRANTED_CALLERS: profile "ci-deployer" entry 0 ("role/x") must be a 12-digit account ID or an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)',
      'GRANTED_CALLERS: "admin" must be an array of IAM role or user ARNs',
    ]);
  });

  it("refuses a value that is not a JSON object of the known fields", () => {
    expect(problemsOf("{")).toEqual(["GRANTED_CALLERS: not valid JSON"]);
    expect(problemsOf("[]")).toEqual(["GRANTED_CALLERS: must be a JSON object"]);
    expect(problemsOf('{"callers":[]}')).toEqual(['GRANTED_CALLERS: unknown field "callers"']);
  });
});

describe("granted callers with their own scope ceiling", () => {
  const scoped = parseProfilesConfig({
    profiles: {
      shared: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "cyberark/shared",
        applicationId: "deploy_api",
        scope: "read",
        scopes: ["read", "deploy"],
      },
      plain: { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "cyberark/plain" },
    },
  });
  const grant = (entries: unknown[], profile = "shared") =>
    JSON.stringify({ profiles: { [profile]: entries } });
  const problems = (value: string) => {
    try {
      withGrantedCallers(scoped, value);
    } catch (error) {
      if (error instanceof ProfilesConfigError) return error.problems;
      throw error;
    }
    return [];
  };
  const reportRole = "arn:aws:iam::111122223333:role/report-job";

  it("carries a granted caller's ceiling, beside plain granted callers", () => {
    const config = withGrantedCallers(
      scoped,
      grant([{ caller: reportRole, scopes: ["read"] }, "arn:aws:iam::111122223333:role/deployer"]),
    );
    const callers = config.profiles.get("shared")?.allowedCallers ?? [];
    expect(callers).toHaveLength(2);
    expect(callers[0]).toMatchObject({ kind: "role", scopes: "read" });
    expect(callers[1]?.scopes).toBeUndefined();
    expect(isAllowed(session("report-job"), callers)).toBe(true);
  });

  it("refuses a granted ceiling outside the profile's scopes, or on a profile without scopes", () => {
    expect(problems(grant([{ caller: reportRole, scopes: ["read", "admin"] }]))).toEqual([
      `GRANTED_CALLERS: profile "shared" entry 0 (caller "${reportRole}") "scopes": scope "admin" is not in the profile's "scopes"`,
    ]);
    expect(problems(grant([{ caller: reportRole, scopes: ["read"] }], "plain"))).toEqual([
      `GRANTED_CALLERS: profile "plain" entry 0 (caller "${reportRole}") has "scopes" but the profile declares none (its callers can only get its default scope)`,
    ]);
  });

  it("refuses an admin entry with scopes: admins only invalidate", () => {
    expect(problems(JSON.stringify({ admin: [{ caller: reportRole, scopes: ["read"] }] }))).toEqual(
      [
        `GRANTED_CALLERS: "admin" entry 0 ({"caller":"${reportRole}","scopes":["read"]}) must be a plain pattern string: scopes belong to a profile's allowedCallers, and an admin only invalidates`,
      ],
    );
  });
});
