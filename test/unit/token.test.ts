import { describe, expect, it } from "vitest";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { NO_SCOPES, scopeSetOf } from "../../functions/core/scope-set.js";
import {
  type CachedToken,
  cacheKey,
  effectiveMinValiditySeconds,
  isUsable,
  remainingSeconds,
  tokenFromGrant,
} from "../../functions/core/token.js";
import { exampleConfig } from "../support/fakes.js";

const T0 = Date.parse("2026-11-21T12:00:00Z");

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none" })}.${encode(claims)}.sig`;
}

function token(lifetimeSeconds: number): CachedToken {
  return { cacheKey: "k", accessToken: "t", issuedAt: T0, expiresAt: T0 + lifetimeSeconds * 1000 };
}

describe("token lifetime", () => {
  it("counts expires_in from the moment the request was sent", () => {
    const cached = tokenFromGrant({ accessToken: "opaque", expiresIn: 3600 }, "k", T0);
    expect(cached.expiresAt).toBe(T0 + 3_600_000);
  });

  it("falls back to the JWT exp claim when expires_in is missing", () => {
    const exp = T0 / 1000 + 600;
    expect(
      tokenFromGrant({ accessToken: jwt({ exp }), expiresIn: undefined }, "k", T0).expiresAt,
    ).toBe(exp * 1000);
  });

  it.each([["3600"], [0], [-5], [1.5], [null]])(
    "falls back to exp when expires_in is %s",
    (expiresIn) => {
      const exp = T0 / 1000 + 900;
      expect(tokenFromGrant({ accessToken: jwt({ exp }), expiresIn }, "k", T0).expiresAt).toBe(
        exp * 1000,
      );
    },
  );

  it("finds the response unusable when neither expires_in nor exp gives a lifetime", () => {
    expect(() => tokenFromGrant({ accessToken: "opaque", expiresIn: undefined }, "k", T0)).toThrow(
      UpstreamUnavailableError,
    );
    expect(() =>
      tokenFromGrant({ accessToken: jwt({ sub: "x" }), expiresIn: "soon" }, "k", T0),
    ).toThrow(UpstreamUnavailableError);
  });

  it("finds a token whose exp has already passed unusable", () => {
    expect(() =>
      tokenFromGrant({ accessToken: jwt({ exp: T0 / 1000 - 1 }), expiresIn: undefined }, "k", T0),
    ).toThrow(UpstreamUnavailableError);
  });

  const MAX_LIFETIME_MS = 366 * 24 * 3600 * 1000;
  it.each([[1e13], [1e300], [366 * 24 * 3600 + 1]])(
    "counts an expires_in of %s seconds (over 366 days) as 366 days",
    (expiresIn) => {
      const cached = tokenFromGrant({ accessToken: "opaque", expiresIn }, "k", T0);
      expect(cached.expiresAt).toBe(T0 + MAX_LIFETIME_MS);
      expect(new Date(cached.expiresAt).toISOString()).toBe("2027-11-22T12:00:00.000Z");
    },
  );

  it.each([[1e13], [1e300], [T0 / 1000 + 400 * 24 * 3600]])(
    "counts a JWT exp of %s (over 366 days away) as 366 days",
    (exp) => {
      const cached = tokenFromGrant({ accessToken: jwt({ exp }), expiresIn: undefined }, "k", T0);
      expect(cached.expiresAt).toBe(T0 + MAX_LIFETIME_MS);
    },
  );

  it("keeps a lifetime of exactly 366 days as it is", () => {
    const expiresIn = 366 * 24 * 3600;
    expect(tokenFromGrant({ accessToken: "t", expiresIn }, "k", T0).expiresAt).toBe(
      T0 + MAX_LIFETIME_MS,
    );
  });

  it("keeps the scope CyberArk returned, not the one requested", () => {
    expect(
      tokenFromGrant({ accessToken: "t", expiresIn: 60, scope: "granted" }, "k", T0).scope,
    ).toBe("granted");
    expect(tokenFromGrant({ accessToken: "t", expiresIn: 60 }, "k", T0)).not.toHaveProperty(
      "scope",
    );
  });
});

describe("min_validity decisions", () => {
  it("uses the requested min_validity when it is under half the granted lifetime", () => {
    expect(effectiveMinValiditySeconds(token(3600), 300)).toBe(300);
  });

  it("caps min_validity at half the lifetime CyberArk granted", () => {
    expect(effectiveMinValiditySeconds(token(120), 300)).toBe(60);
  });

  it("serves a token valid for at least min_validity, and not one that is not", () => {
    const cached = token(3600);
    expect(isUsable(cached, T0 + 3300_000, 300)).toBe(true);
    expect(isUsable(cached, T0 + 3301_000, 300)).toBe(false);
  });

  it("never serves a token at or after its expiry, even with min_validity 0", () => {
    const cached = token(3600);
    expect(isUsable(cached, T0 + 3599_000, 0)).toBe(true);
    expect(isUsable(cached, T0 + 3599_500, 0)).toBe(false);
    expect(isUsable(cached, T0 + 3600_000, 0)).toBe(false);
  });

  it("reports the remaining lifetime rounded down", () => {
    expect(remainingSeconds(token(3600), T0 + 1500)).toBe(3598);
  });
});

describe("cache key", () => {
  const config = exampleConfig();
  const profile = config.profiles.get("ci-deployer");
  if (!profile) throw new Error("example profile missing");
  const credentials = { clientId: "svc@example.com", clientSecret: "s", version: "v1" };
  const base = cacheKey(profile, credentials, NO_SCOPES);

  it.each([
    [
      "tenant",
      { ...profile, tenantUrl: "https://other.id.cyberark.cloud" },
      credentials,
      NO_SCOPES,
    ],
    ["endpoint", { ...profile, applicationId: "app" }, credentials, NO_SCOPES],
    ["scope", profile, credentials, scopeSetOf(["x"])],
    ["client id", profile, { ...credentials, clientId: "other@example.com" }, NO_SCOPES],
    ["secret version", profile, { ...credentials, version: "v2" }, NO_SCOPES],
  ])("changes with the %s", (_, changedProfile, changedCredentials, changedSet) => {
    expect(cacheKey(changedProfile, changedCredentials, changedSet)).not.toBe(base);
  });

  it("does not depend on the client secret itself", () => {
    const otherSecret = { ...credentials, clientSecret: "other" };
    expect(cacheKey(profile, otherSecret, NO_SCOPES)).toBe(base);
  });
});
