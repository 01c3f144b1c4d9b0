import { describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../functions/core/errors.js";
import { type Profile, parseProfilesConfig } from "../../functions/core/profiles.js";
import { askFor } from "../../functions/core/scope-ceilings.js";
import { NO_SCOPES, type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import { caller } from "../support/fakes.js";

const ACCOUNT = "111122223333";
const role = (name: string) => caller(`arn:aws:sts::${ACCOUNT}:assumed-role/${name}/run-1`);
const tenantUrl = "https://abc1234.id.cyberark.cloud";

function profileOf(definition: Record<string, unknown>): Profile {
  const config = parseProfilesConfig({
    profiles: { p: { tenantUrl, secretId: "s", applicationId: "app", ...definition } },
  });
  const profile = config.profiles.get("p");
  if (!profile) throw new Error("no profile");
  return profile;
}

const set = (text: string): ScopeSet => scopeSetOf(text.split(" "));

function refusal(run: () => unknown): AccessDeniedError {
  try {
    run();
  } catch (error) {
    if (error instanceof AccessDeniedError) return error;
    throw error;
  }
  throw new Error("expected an AccessDeniedError");
}

// One service user shared by a report job (read only) and a deploy job (read and deploy).
const shared = profileOf({
  scope: "read",
  scopes: ["read", "deploy", "audit"],
  allowedCallers: [
    { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
    { caller: `arn:aws:iam::${ACCOUNT}:role/deploy-job`, scopes: ["read", "deploy"] },
    { caller: `arn:aws:iam::${ACCOUNT}:role/*-auditor`, scopes: ["audit"] },
    `arn:aws:iam::${ACCOUNT}:role/platform-*`,
  ],
});

describe("askFor: what a caller may ask of a profile with scopes", () => {
  it("grants an ask within the caller's own ceiling, canonical", () => {
    expect(askFor(shared, role("deploy-job"), set("deploy read"))).toBe("deploy read");
    expect(askFor(shared, role("report-job"), set("read"))).toBe("read");
  });

  it("asks the profile's default scope when the caller names none", () => {
    expect(askFor(shared, role("report-job"), undefined)).toBe("read");
  });

  it("refuses an ask outside the caller's ceiling, naming only the scopes outside", () => {
    const error = refusal(() => askFor(shared, role("report-job"), set("deploy read audit")));
    expect(error.description).toBe(
      'The caller may not ask for the scopes "audit", "deploy" of this profile.',
    );
    expect(error.message).toBe(
      'caller may not ask for the scopes "audit", "deploy" of profile "p" (asked "audit deploy read")',
    );
  });

  it("gives a plain pattern the profile's whole ceiling", () => {
    expect(askFor(shared, role("platform-ops"), set("audit deploy read"))).toBe(
      "audit deploy read",
    );
  });

  it("takes the union of the ceilings of every entry the caller matches", () => {
    // ops-auditor matches both entries, so it may ask for either's scopes, or both at once.
    const twice = profileOf({
      scope: "read",
      scopes: ["read", "deploy", "audit"],
      allowedCallers: [
        { caller: `arn:aws:iam::${ACCOUNT}:role/ops-*`, scopes: ["read"] },
        { caller: `arn:aws:iam::${ACCOUNT}:role/*-auditor`, scopes: ["audit"] },
      ],
    });
    expect(askFor(twice, role("ops-auditor"), set("audit read"))).toBe("audit read");
    expect(refusal(() => askFor(twice, role("ops-auditor"), set("deploy"))).description).toBe(
      'The caller may not ask for the scope "deploy" of this profile.',
    );
    expect(() => askFor(twice, role("ops-reader"), set("audit"))).toThrow(AccessDeniedError);
  });

  it("checks the default ask like any other: a caller whose ceiling lacks it must ask explicitly", () => {
    const error = refusal(() => askFor(shared, role("ci-auditor"), undefined));
    expect(error.description).toBe(
      'The caller may not ask for the scope "read" of this profile, which is its default: ask for a scope explicitly.',
    );
    expect(askFor(shared, role("ci-auditor"), set("audit"))).toBe("audit");
  });

  it("refuses an empty ask of a profile with scopes, even one the file check let through", () => {
    // The profiles file requires a default `scope` beside `scopes`; a profile built some other
    // way without one must still never send CyberArk an ask of nothing (the app's own defaults).
    const { scope: _, ...rest } = shared;
    const noDefault: Profile = { ...rest, defaultScopes: NO_SCOPES };
    const error = refusal(() => askFor(noDefault, role("report-job"), undefined));
    expect(error.description).toBe(
      "This profile has no default scope: ask for a scope explicitly.",
    );
    expect(() => askFor(noDefault, role("platform-admin"), undefined)).toThrow(AccessDeniedError);
    expect(askFor(noDefault, role("report-job"), set("read"))).toBe("read");
  });

  it("refuses a caller that matches no entry, whatever it asks", () => {
    const error = refusal(() => askFor(shared, role("stranger"), undefined));
    expect(error.description).toBe("The caller is not allowed to use this profile.");
    expect(() => askFor(shared, undefined, undefined)).toThrow(AccessDeniedError);
  });
});

describe("askFor: a profile without scopes serves only its default set", () => {
  const plain = profileOf({ scope: "read write", allowedCallers: [ACCOUNT] });

  it("grants the default ask, and an explicit ask equal to the default set", () => {
    expect(askFor(plain, role("anyone"), undefined)).toBe("read write");
    expect(askFor(plain, role("anyone"), set("write read"))).toBe("read write");
  });

  it("refuses a narrower ask (a subset of the default) and a broader one", () => {
    expect(refusal(() => askFor(plain, role("anyone"), set("read"))).description).toBe(
      "This profile serves only its default scopes: ask without scope.",
    );
    expect(refusal(() => askFor(plain, role("anyone"), set("read admin"))).description).toBe(
      'The caller may not ask for the scope "admin" of this profile.',
    );
  });

  it("grants the empty default of a profile without scope and refuses any explicit ask", () => {
    const bare = profileOf({ allowedCallers: [ACCOUNT] });
    expect(askFor(bare, role("anyone"), undefined)).toBe("");
    expect(() => askFor(bare, role("anyone"), set("read"))).toThrow(AccessDeniedError);
  });
});
