import { describe, expect, it } from "vitest";
import { ProfilesConfigError, parseProfilesConfig } from "../../functions/core/profiles.js";
import { loadProfilesFile } from "../../functions/core/profiles-file.js";

const valid = {
  tenantUrl: "https://abc1234.id.cyberark.cloud",
  secretId: "cyberark/ci-deployer",
  allowedCallers: ["arn:aws:iam::111122223333:role/ci-*"],
};

function problemsOf(input: unknown, options = {}): readonly string[] {
  try {
    parseProfilesConfig(input, options);
  } catch (error) {
    if (error instanceof ProfilesConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("profiles configuration", () => {
  it("accepts the contract's example and applies defaults", () => {
    const config = parseProfilesConfig({
      profiles: {
        "ci-deployer": valid,
        "reports-app": {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:cyberark/reports-AbCdEf",
          applicationId: "reports_api",
          scope: "ReadUserProfile",
          allowedCallers: ["arn:aws:iam::111122223333:role/reports-lambda", "444455556666"],
        },
      },
      adminCallers: ["arn:aws:iam::111122223333:role/platform-admin"],
    });
    expect(config.profiles.get("ci-deployer")).toMatchObject({
      clientAuth: "body",
      tenantUrl: valid.tenantUrl,
    });
    expect(config.profiles.get("reports-app")).toMatchObject({
      applicationId: "reports_api",
      scope: "ReadUserProfile",
    });
    expect(config.adminCallers).toHaveLength(1);
  });

  it("normalises a tenant URL with a trailing slash to its origin; first-generation tenants are fine", () => {
    const config = parseProfilesConfig({
      profiles: { a: { ...valid, tenantUrl: "https://aab1234.my.idaptive.app/" } },
    });
    expect(config.profiles.get("a")?.tenantUrl).toBe("https://aab1234.my.idaptive.app");
  });

  it("treats absent allowedCallers and adminCallers as nobody", () => {
    const config = parseProfilesConfig({
      profiles: { a: { tenantUrl: valid.tenantUrl, secretId: "s" } },
    });
    expect(config.profiles.get("a")?.allowedCallers).toEqual([]);
    expect(config.adminCallers).toEqual([]);
  });

  it("reports every problem on its own line, naming the profile and the field", () => {
    const problems = problemsOf({
      profiles: {
        Bad_Name: valid,
        "no-https": { ...valid, tenantUrl: "http://abc1234.id.cyberark.cloud" },
        "with-path": { ...valid, tenantUrl: "https://abc1234.id.cyberark.cloud/oauth2" },
        "bad-auth": { ...valid, clientAuth: "header" },
        "bad-callers": { ...valid, allowedCallers: ["arn:aws:iam::1:role/x"] },
        typo: { ...valid, scopez: "x" },
        "no-secret": { tenantUrl: valid.tenantUrl },
      },
      extra: true,
    });
    expect(problems).toEqual([
      'unknown top-level field "extra"',
      'profile "Bad_Name": the name must match ^[a-z0-9][a-z0-9-]{0,62}$',
      'profile "no-https" field "tenantUrl": must use https:// (http:// is accepted only by the local server, for loopback hosts)',
      'profile "with-path" field "tenantUrl": must be an origin only: no path, query, fragment or credentials',
      'profile "bad-auth" field "clientAuth": must be "body" or "basic"',
      expect.stringMatching(
        /^profile "bad-callers" field "allowedCallers": entry 0 .* must be a 12-digit account ID/,
      ),
      'profile "typo" field "scopez": is not a known field',
      'profile "no-secret" field "secretId": must be a Secrets Manager secret name or ARN',
    ]);
  });

  it("accepts http:// only for loopback tenants and only when the local server asks", () => {
    const loopback = { profiles: { a: { ...valid, tenantUrl: "http://127.0.0.1:9000" } } };
    expect(problemsOf(loopback)).toHaveLength(1);
    expect(problemsOf(loopback, { allowLoopbackHttp: true })).toEqual([]);
    expect(
      problemsOf(
        { profiles: { a: { ...valid, tenantUrl: "http://example.com" } } },
        { allowLoopbackHttp: true },
      ),
    ).toEqual([
      'profile "a" field "tenantUrl": must use https:// (http:// only for loopback hosts)',
    ]);
  });

  it("refuses a file that is not an object of profiles", () => {
    expect(problemsOf([])).toEqual(["the file must hold a JSON object"]);
    expect(problemsOf({})).toEqual(['"profiles" must be an object of profile name to profile']);
  });

  it("refuses an applicationId that could name another tenant path (. or .. or a leading symbol)", () => {
    for (const applicationId of [".", "..", "-app", "_app", ".hidden", "a/b", "a".repeat(129)]) {
      expect(problemsOf({ profiles: { a: { ...valid, applicationId } } })).toEqual([
        'profile "a" field "applicationId": must be a string matching ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$',
      ]);
    }
    for (const applicationId of ["reports_api", "App.v2", "9-lives", "a".repeat(128)]) {
      expect(problemsOf({ profiles: { a: { ...valid, applicationId } } })).toEqual([]);
    }
  });

  it("refuses a tenant URL with credentials in it", () => {
    expect(
      problemsOf({ profiles: { a: { ...valid, tenantUrl: "https://u:p@abc.id.cyberark.cloud" } } }),
    ).toHaveLength(1);
  });
});

describe("the shipped example profiles file", () => {
  it("is valid", () => {
    expect(loadProfilesFile("examples/profiles.json").profiles.size).toBe(2);
  });

  it("names the file in every problem line of an invalid one", () => {
    expect(() => loadProfilesFile("package.json")).toThrow(
      /package\.json: unknown top-level field "name"/,
    );
    expect(() => loadProfilesFile("no-such-file.json")).toThrow(
      /no-such-file\.json: cannot read the file \(ENOENT\)/,
    );
  });
});
