import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import {
  cyberArkEndpoints,
  revocationEndpointPath,
} from "../../functions/adapters/cyberark-endpoints.js";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import type { RevocationRequest, TokenRequest } from "../../functions/core/ports.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";

const APP = { applicationId: "reports_api" };
const CLIENT = { clientId: "svc-reports@example.com", clientSecret: "p+a%ss:wörd" };
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [CLIENT],
  applications: { reports_api: {} },
});
const client = new CyberArkIdentityClient({ sleep: async () => {}, random: () => 0 });

function tokenRequest(clientAuth: TokenRequest["clientAuth"]): TokenRequest {
  const endpoint = cyberArkEndpoints({ tenantUrl: simulator.url, ...APP }).token;
  return { endpoint, clientAuth, ...CLIENT };
}

function revocation(token: string, overrides: Partial<RevocationRequest> = {}): RevocationRequest {
  return {
    endpoint: cyberArkEndpoints({ tenantUrl: simulator.url, ...APP }).revocation ?? "",
    clientAuth: "basic",
    ...CLIENT,
    token,
    ...overrides,
  };
}

/** What a resource server would say of the token: 200 while it lives, 401 once it is dead. */
async function userinfoStatus(token: string): Promise<number> {
  const response = await fetch(new URL("/userinfo", simulator.url), {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

/** The tenant's own view of the token (RFC 7662 introspection). */
async function introspect(token: string): Promise<unknown> {
  const response = await fetch(new URL("/oauth2/introspect", simulator.url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      token,
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
    }),
  });
  return response.json();
}

beforeAll(async () => {
  await simulator.start();
});
afterAll(async () => {
  await simulator.stop();
});
beforeEach(() => {
  simulator.reset();
});

describe("revocation at CyberArk (POST /oauth2/revoke/{applicationId})", () => {
  it.each([["basic"], ["body"]] as const)(
    "kills the token: the tenant then reports it inactive and its resource refuses it (%s auth)",
    async (clientAuth) => {
      const { accessToken } = await client.requestToken(tokenRequest(clientAuth));
      expect(await userinfoStatus(accessToken)).toBe(200);
      expect(await introspect(accessToken)).toMatchObject({ active: true });

      await client.revokeToken(revocation(accessToken, { clientAuth }));

      expect(await userinfoStatus(accessToken)).toBe(401);
      expect(await introspect(accessToken)).toEqual({ active: false });
      expect(simulator.isRevoked(accessToken)).toBe(true);
    },
  );

  it("sends one form POST with the token and the profile's client authentication", async () => {
    await client.revokeToken(revocation("some-token"));

    expect(simulator.requests).toEqual([
      {
        path: "/oauth2/revoke/reports_api",
        clientAuth: "basic",
        clientId: CLIENT.clientId,
        scope: undefined,
        contentType: "application/x-www-form-urlencoded",
        accept: "application/json",
        token: "some-token",
      },
    ]);
  });

  it("succeeds for a token the tenant does not know, as RFC 7009 requires", async () => {
    await expect(client.revokeToken(revocation("never-issued"))).resolves.toBeUndefined();
  });

  it("leaves other tokens alive", async () => {
    const first = await client.requestToken(tokenRequest("basic"));
    const second = await client.requestToken(tokenRequest("basic"));

    await client.revokeToken(revocation(first.accessToken));

    expect(await userinfoStatus(second.accessToken)).toBe(200);
  });

  it("reports refused credentials as a rejection with CyberArk's code, after one attempt", async () => {
    const error = await client
      .revokeToken(revocation("t", { clientSecret: "wrong" }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect(error).toMatchObject({ upstreamStatus: 401, upstreamError: "invalid_client" });
    expect(simulator.requests).toHaveLength(1);
  });

  it("reports a 500 as unavailable after exactly one attempt (the caller decides on a retry)", async () => {
    simulator.failRevocations({ kind: "status", status: 500 });
    const { accessToken } = await client.requestToken(tokenRequest("basic"));

    const error = await client.revokeToken(revocation(accessToken)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(simulator.requests.map((r) => r.path)).toEqual([
      "/oauth2/token/reports_api",
      "/oauth2/revoke/reports_api",
    ]);
    expect(simulator.isRevoked(accessToken)).toBe(false);
    expect(await userinfoStatus(accessToken)).toBe(200);
  });

  it("reports a timeout as unavailable after exactly one attempt", async () => {
    const impatient = new CyberArkIdentityClient({ attemptTimeoutMs: 200 });
    simulator.failRevocations({ kind: "delay", ms: 1000 });

    const error = await impatient.revokeToken(revocation("t")).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(simulator.requests).toHaveLength(1);
  });
});

describe("revocationEndpointPath", () => {
  it("names the application's revocation endpoint, and none for platform tokens", () => {
    expect(revocationEndpointPath({ applicationId: "reports_api" })).toBe(
      "/oauth2/revoke/reports_api",
    );
    expect(revocationEndpointPath({})).toBeUndefined();
  });
});
