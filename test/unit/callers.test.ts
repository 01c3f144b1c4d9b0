import { describe, expect, it } from "vitest";
import { isAllowed, parseCaller, parseCallerPattern } from "../../functions/core/callers.js";

function allowed(callerArn: string, patterns: string[]): boolean {
  const parsed = patterns.map((entry) => {
    const pattern = parseCallerPattern(entry);
    if (typeof pattern === "string") throw new Error(`${entry}: ${pattern}`);
    return pattern;
  });
  return isAllowed(parseCaller(callerArn), parsed);
}

describe("caller matching (allowedCallers)", () => {
  it.each([
    // [caller ARN, pattern, allowed?, why]
    [
      "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1",
      "arn:aws:iam::123456789012:role/ci-deployer",
      true,
      "assumed role matches its role",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/ci-deployer/other-session",
      "arn:aws:iam::123456789012:role/ci-deployer",
      true,
      "session name is ignored",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/ci-x/run",
      "arn:aws:iam::123456789012:role/ci-*",
      true,
      "* matches a run of characters",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/ci-/run",
      "arn:aws:iam::123456789012:role/ci-*",
      true,
      "* matches an empty run",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/a/b",
      "arn:aws:iam::123456789012:role/a*",
      true,
      "role a matches a*; session b is not part of the name",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/other/ci-session",
      "arn:aws:iam::123456789012:role/ci-*",
      false,
      "a session name cannot satisfy a role pattern",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/xci-deployer/s",
      "arn:aws:iam::123456789012:role/ci-*",
      false,
      "patterns are anchored",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/deploy/s",
      "arn:aws:iam::123456789012:role/team/deploy",
      true,
      "a role path in the pattern still matches",
    ],
    [
      "arn:aws:iam::123456789012:role/team/deploy",
      "arn:aws:iam::123456789012:role/deploy",
      true,
      "a role ARN with a path matches by name",
    ],
    [
      "arn:aws:sts::210987654321:assumed-role/ci-deployer/s",
      "arn:aws:iam::123456789012:role/ci-deployer",
      false,
      "another account's role of the same name",
    ],
    [
      "arn:aws-cn:sts::123456789012:assumed-role/ci-deployer/s",
      "arn:aws:iam::123456789012:role/ci-deployer",
      false,
      "another partition",
    ],
    [
      "arn:aws-us-gov:sts::123456789012:assumed-role/ci-deployer/s",
      "arn:aws-us-gov:iam::123456789012:role/ci-deployer",
      true,
      "same non-default partition",
    ],
    [
      "arn:aws:iam::123456789012:user/alice",
      "arn:aws:iam::123456789012:role/alice",
      false,
      "a user never matches a role pattern",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/alice/s",
      "arn:aws:iam::123456789012:user/alice",
      false,
      "a role never matches a user pattern",
    ],
    [
      "arn:aws:iam::123456789012:user/ops/alice",
      "arn:aws:iam::123456789012:user/alice",
      true,
      "user ARNs carry paths; names decide",
    ],
    [
      "arn:aws:iam::123456789012:user/bob",
      "arn:aws:iam::123456789012:user/*",
      true,
      "user/* matches every user of the account",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/anything/s",
      "123456789012",
      true,
      "an account ID admits any principal of it",
    ],
    [
      "arn:aws:iam::123456789012:root",
      "123456789012",
      true,
      "the account root matches the account ID",
    ],
    [
      "arn:aws:iam::123456789012:root",
      "arn:aws:iam::123456789012:role/*",
      false,
      "the root is not a role",
    ],
    [
      "arn:aws:sts::123456789012:federated-user/bob",
      "arn:aws:iam::123456789012:user/bob",
      false,
      "a federated user is not an IAM user",
    ],
    ["arn:aws:sts::999999999999:assumed-role/x/s", "123456789012", false, "another account"],
    [
      "arn:aws:sts::123456789012:assumed-role/Ci-Deployer/s",
      "arn:aws:iam::123456789012:role/ci-deployer",
      false,
      "matching is case-sensitive, as IAM policies are",
    ],
    [
      "arn:aws:sts::123456789012:assumed-role/ci.deployer/s",
      "arn:aws:iam::123456789012:role/ci*deployer",
      true,
      "* spans punctuation inside the name",
    ],
    [
      "arn:aws:sts::123456789012:assumed-ROLE/ci/s",
      "123456789012",
      true,
      "an unusual ARN still yields its account",
    ],
  ])("%s vs %s -> %s (%s)", (callerArn, pattern, expected) => {
    expect(allowed(callerArn, [pattern])).toBe(expected);
  });

  it("denies everyone when the list is empty", () => {
    expect(allowed("arn:aws:sts::123456789012:assumed-role/a/b", [])).toBe(false);
  });

  it.each([undefined, null, "", "not-an-arn", "arn:aws:sts::12345:assumed-role/a/b"])(
    "denies a caller without a usable ARN (%s)",
    (arn) => {
      expect(isAllowed(parseCaller(arn), [{ kind: "account", account: "123456789012" }])).toBe(
        false,
      );
    },
  );

  it.each([
    ["12345678901", "must be a 12-digit account ID"],
    ["arn:aws:iam::123456789012:group/devs", "must be a 12-digit account ID"],
    ["arn:aws:iam::123456789012:role/team*/deploy", "may use * only in the role or user name"],
    ["arn:aws:iam::123456789012:role/bad name", "invalid role name"],
    ["arn:aws:sts::123456789012:assumed-role/a/b", "must be a 12-digit account ID"],
    [42, "must be a string"],
  ])("refuses the pattern %s", (entry, problem) => {
    expect(parseCallerPattern(entry)).toContain(problem);
  });
});
