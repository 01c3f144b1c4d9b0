import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import {
  CyberArkIdentityClient,
  type IdentityClientOptions,
} from "../../functions/adapters/cyberark-identity.js";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import type { TokenRequest } from "../../functions/core/ports.js";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { IDENTITY_MAX_BACKOFF_MS } from "../../functions/core/timing.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";

const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [
    { clientId: "svc-ci@example.com", clientSecret: "s3cret" },
    { clientId: "odd+id@example.com", clientSecret: "a+b%20c:d&e=f" },
  ],
  applications: { reports_api: { scopes: ["ReadUserProfile"] } },
  tokenLifetimeSeconds: 900,
});
const sleeps: number[] = [];
const noSleep: IdentityClientOptions = {
  sleep: async (ms) => {
    sleeps.push(ms);
  },
  random: () => 0.5,
};
const client = new CyberArkIdentityClient(noSleep);

// A request to the tenant's `path`, as the client gets it: an absolute endpoint.
function request(overrides: Partial<TokenRequest> & { path?: string } = {}): TokenRequest {
  const { path = "/oauth2/platformtoken", ...rest } = overrides;
  return {
    endpoint: new URL(path, simulator.url).href,
    clientAuth: "body",
    clientId: "svc-ci@example.com",
    clientSecret: "s3cret",
    ...rest,
  };
}

beforeAll(async () => {
  await simulator.start();
});
afterAll(async () => {
  await simulator.stop();
});
beforeEach(() => {
  simulator.reset();
  sleeps.length = 0;
});

describe("CyberArkIdentityClient over HTTPS", () => {
  it("posts a form with client_credentials to /oauth2/platformtoken, credentials in the body", async () => {
    const grant = await client.requestToken(request());

    expect(grant).toMatchObject({ accessToken: expect.stringMatching(/^ey/), expiresIn: 900 });
    expect(simulator.requests).toEqual([
      {
        path: "/oauth2/platformtoken",
        clientAuth: "body",
        clientId: "svc-ci@example.com",
        scope: undefined,
        contentType: "application/x-www-form-urlencoded",
        accept: "application/json",
      },
    ]);
  });

  it("uses /oauth2/token/{applicationId} with HTTP Basic and scope, returning the granted scope", async () => {
    const grant = await client.requestToken(
      request({
        path: "/oauth2/token/reports_api",
        clientAuth: "basic",
        scope: scopeSetOf(["ReadUserProfile"]),
      }),
    );

    expect(grant.scope).toBe("ReadUserProfile");
    expect(simulator.requests[0]).toMatchObject({
      path: "/oauth2/token/reports_api",
      clientAuth: "basic",
    });
  });

  it("form-urlencodes Basic credentials first, so a secret with + % : & = still works", async () => {
    const grant = await client.requestToken(
      request({
        clientAuth: "basic",
        clientId: "odd+id@example.com",
        clientSecret: "a+b%20c:d&e=f",
      }),
    );
    expect(grant.accessToken).toBeTruthy();
  });

  it("reports wrong credentials as invalid_client, without retrying", async () => {
    const error = await client
      .requestToken(request({ clientSecret: "wrong" }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect(error).toMatchObject({
      upstreamStatus: 401,
      upstreamError: "invalid_client",
      isInvalidClient: true,
    });
    expect(simulator.requests).toHaveLength(1);
  });

  it("reports other 4xx as rejections with the OAuth2 code only", async () => {
    const error = await client
      .requestToken(request({ path: "/oauth2/token/reports_api", scope: scopeSetOf(["Admin"]) }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      upstreamStatus: 400,
      upstreamError: "invalid_scope",
      isInvalidClient: false,
    });
  });

  it("drops a free-text upstream error instead of passing it on", async () => {
    simulator.failNext({
      kind: "status",
      status: 400,
      body: '{"error":"<script>alert(1)</script>\\n"}',
    });
    const error = await client.requestToken(request()).catch((e: unknown) => e);
    expect(error).toMatchObject({ upstreamStatus: 400, upstreamError: undefined });
  });

  it("retries 5xx and 429 with jittered backoff, honouring Retry-After", async () => {
    simulator.failNext({ kind: "status", status: 503 });
    simulator.failNext({ kind: "status", status: 429, retryAfter: "0.2" });

    const grant = await client.requestToken(request());

    expect(grant.accessToken).toBeTruthy();
    expect(simulator.requests).toHaveLength(3);
    expect(sleeps).toEqual([50, 200]);
    expect(200).toBeLessThanOrEqual(IDENTITY_MAX_BACKOFF_MS); // short enough to wait out
  });

  it("gives up at once on a 429 with a Retry-After too long to wait, asking for that back-off", async () => {
    simulator.failNext({ kind: "status", status: 429, retryAfter: "60" });

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ retryAfterSeconds: 60, backOffSeconds: 60 });
    expect(simulator.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("gives up at once on a 503 with a Retry-After, rounding it up", async () => {
    simulator.failNext({ kind: "status", status: 503, retryAfter: "119.2" });

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ retryAfterSeconds: 120, backOffSeconds: 120 });
    expect(simulator.requests).toHaveLength(1);
  });

  it("reads a Retry-After given as an HTTP date, against the client's clock", async () => {
    const now = Date.parse("2026-11-21T12:00:00Z");
    const atNoon = new CyberArkIdentityClient({ ...noSleep, now: () => now });
    const inNinetySeconds = new Date(now + 90_000).toUTCString();
    simulator.failNext({ kind: "status", status: 429, retryAfter: inNinetySeconds });

    const error = await atNoon.requestToken(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ retryAfterSeconds: 90, backOffSeconds: 90 });
    expect(simulator.requests).toHaveLength(1);
  });

  it("caps the back-off a tenant asks for at 300 s", async () => {
    simulator.failNext({ kind: "status", status: 429, retryAfter: "86400" });

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(error).toMatchObject({ retryAfterSeconds: 300, backOffSeconds: 300 });
  });

  it("asks for no back-off when the tenant sent no Retry-After (after three attempts)", async () => {
    simulator.failNext({ kind: "status", status: 503 }, 3);

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ retryAfterSeconds: 5, backOffSeconds: undefined });
    expect(simulator.requests).toHaveLength(3);
  });

  it("waits out a short Retry-After on every attempt, and still reports it as back-off", async () => {
    simulator.failNext({ kind: "status", status: 429, retryAfter: "0.2" }, 3);

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(sleeps).toEqual([200, 200]);
    expect(error).toMatchObject({ retryAfterSeconds: 1, backOffSeconds: 1 });
  });

  it("retries a connection reset instead of reporting it", async () => {
    await client.requestToken(request()); // leaves a kept-alive connection
    simulator.failNext({ kind: "reset" });

    await expect(client.requestToken(request())).resolves.toMatchObject({ expiresIn: 900 });
    expect(simulator.requests).toHaveLength(3);
  });

  it("times out a slow attempt and retries it", async () => {
    const impatient = new CyberArkIdentityClient({ ...noSleep, attemptTimeoutMs: 200 });
    simulator.failNext({ kind: "delay", ms: 1000 });

    await expect(impatient.requestToken(request())).resolves.toBeTruthy();
    expect(simulator.requests).toHaveLength(2);
  });

  it.each([
    ["a non-JSON content type", "text/html", '{"access_token":"x","token_type":"Bearer"}'],
    ["invalid JSON", "application/json", "{"],
    ["no access_token", "application/json", '{"token_type":"Bearer","expires_in":60}'],
    [
      "a non-Bearer token type",
      "application/json",
      '{"access_token":"x","token_type":"mac","expires_in":60}',
    ],
  ])("treats a 200 with %s as unusable (503 after retries)", async (_, contentType, body) => {
    simulator.failNext({ kind: "body", contentType, body }, 3);
    await expect(client.requestToken(request())).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });

  it("cuts off a 200 MB body after 64 KiB and reports it as unusable, never reading it whole", async () => {
    simulator.failNext({ kind: "large body", bytes: 200 * 1024 * 1024 }, 3);

    const error = await client.requestToken(request()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(simulator.requests).toHaveLength(3);
    // The simulator counts a body once its connection has closed, which it learns a little later.
    await vi.waitFor(() => expect(simulator.largeBodiesSent).toHaveLength(3));
    // What the simulator could hand to the socket before the client hung up: buffers, not 200 MB.
    for (const sent of simulator.largeBodiesSent) expect(sent).toBeLessThan(32 * 1024 * 1024);
  });

  it("accepts a token response just under 64 KiB", async () => {
    const padding = "x".repeat(64 * 1024 - 200);
    simulator.failNext({
      kind: "body",
      contentType: "application/json",
      body: JSON.stringify({ access_token: "x", token_type: "Bearer", expires_in: 60, padding }),
    });
    await expect(client.requestToken(request())).resolves.toMatchObject({ accessToken: "x" });
  });

  it("accepts JSON with a charset and a token_type in any case", async () => {
    simulator.failNext({
      kind: "body",
      contentType: "Application/JSON; charset=utf-8",
      body: '{"access_token":"x","token_type":"bearer","expires_in":60}',
    });
    await expect(client.requestToken(request())).resolves.toMatchObject({
      accessToken: "x",
      expiresIn: 60,
    });
  });

  it.each([
    ["a list", ["ReadUserProfile", "WriteUserProfile"]],
    ["an object", { granted: "WriteUserProfile" }],
    ["a number", 7],
    ["a boolean", true],
    ["null", null],
  ])(
    "refuses a grant whose scope is %s, not a string, as unusable: it could name anything",
    async (_, scope) => {
      const body = JSON.stringify({
        access_token: "x",
        token_type: "Bearer",
        expires_in: 60,
        scope,
      });
      simulator.failNext({ kind: "body", contentType: "application/json", body }, 3);

      const error = await client
        .requestToken(
          request({ path: "/oauth2/token/reports_api", scope: scopeSetOf(["ReadUserProfile"]) }),
        )
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(error).toMatchObject({ kind: "unusable", message: expect.stringMatching(/scope/) });
      expect(simulator.requests).toHaveLength(3);
    },
  );

  it.each(HOSTILE_TOKENS)(
    "refuses a token with %s as an unusable body (upstream_unavailable after its retries), its value in no message",
    async (_, token) => {
      const body = JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 60 });
      simulator.failNext({ kind: "body", contentType: "application/json", body }, 3);

      const error = await client.requestToken(request()).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(simulator.requests).toHaveLength(3);
      const messages: string[] = [];
      for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
      expect(messages.join(" ")).toMatch(/b64token/);
      expect(messages.join(" ")).not.toContain(token);
    },
  );

  it("accepts a b64token of exactly 16 KiB with every character of the alphabet and its padding", async () => {
    const alphabet = "ABCxyz019-._~+/";
    const token = `${alphabet}${"A".repeat(16 * 1024 - alphabet.length - 2)}==`;
    const body = JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 60 });
    simulator.failNext({ kind: "body", contentType: "application/json", body });

    await expect(client.requestToken(request())).resolves.toMatchObject({ accessToken: token });
  });

  it.each(["-5", "1e400", "soon", "Tomorrow"])(
    "counts a Retry-After of %s as none: jittered retries, no back-off asked",
    async (retryAfter) => {
      simulator.failNext({ kind: "status", status: 503, retryAfter }, 3);

      const error = await client.requestToken(request()).catch((e: unknown) => e);

      expect(error).toMatchObject({ backOffSeconds: undefined });
      expect(simulator.requests).toHaveLength(3);
    },
  );
});
