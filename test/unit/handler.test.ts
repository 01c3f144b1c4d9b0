import { beforeEach, describe, expect, it } from "vitest";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import { tokenFingerprint } from "../../functions/core/token.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { createHandler } from "../../functions/vend/app.js";
import { type EventOptions, lambdaContext, restEvent, TEST_API } from "../support/events.js";
import {
  ADMIN_ROLE,
  CI_ROLE,
  exampleConfig,
  FakeClock,
  FakeIdentity,
  FakeSecrets,
  MemoryLogger,
  MemoryStore,
  STRANGER,
} from "../support/fakes.js";

let clock: FakeClock;
let identity: FakeIdentity;
let secrets: FakeSecrets;
let logger: MemoryLogger;
let handler: ReturnType<typeof createHandler>;

beforeEach(() => {
  clock = new FakeClock();
  identity = new FakeIdentity();
  secrets = new FakeSecrets();
  secrets.set("cyberark/ci-deployer", { client_id: "svc-ci@example.com", client_secret: "s3cret" });
  logger = new MemoryLogger();
  const vendor = new TokenVendor({
    config: exampleConfig(),
    secrets,
    store: new MemoryStore(),
    identity,
    clock,
    logger,
  });
  handler = createHandler({ vendor, clock, logger, api: TEST_API });
});

async function call(options: EventOptions = {}) {
  const response = await handler(restEvent({ callerArn: CI_ROLE, ...options }), lambdaContext());
  return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
}

describe("GET /tokens/{profile}", () => {
  it("answers 200 with the token body and no-store headers", async () => {
    identity.next.push(() => ({ accessToken: "tok", expiresIn: 17_421, scope: "granted" }));

    const response = await call();

    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual({
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      Pragma: "no-cache",
    });
    expect(response.json).toEqual({
      access_token: "tok",
      token_type: "Bearer",
      expires_in: 17_421,
      expires_at: "2026-11-21T16:50:21Z",
      scope: "granted",
      profile: "ci-deployer",
    });
  });

  it("reports expires_in as the remaining lifetime at the moment of the response", async () => {
    await call();
    clock.advanceSeconds(1000);

    expect((await call()).json.expires_in).toBe(2600);
  });

  it("answers 200 to an absurd expires_in, counting it as 366 days", async () => {
    identity.next.push(() => ({ accessToken: "long-lived", expiresIn: 1e13 }));
    const response = await call();
    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({
      expires_in: 366 * 24 * 3600,
      expires_at: "2027-11-22T12:00:00Z",
    });
  });

  it("omits scope when CyberArk returned none", async () => {
    expect((await call()).json).not.toHaveProperty("scope");
  });

  it("passes min_validity through", async () => {
    await call();
    clock.advanceSeconds(3000);

    expect((await call({ query: { min_validity: ["599"] } })).json.access_token).toBe("token-1");
    expect((await call({ query: { min_validity: ["601"] } })).json.access_token).toBe("token-2");
  });
});

describe("errors", () => {
  it.each<[string, number, string, EventOptions]>([
    ["a malformed profile name", 400, "invalid_request", { profile: "Bad_Name" }],
    [
      "a min_validity that is not a number",
      400,
      "invalid_request",
      { query: { min_validity: ["soon"] } },
    ],
    ["a negative min_validity", 400, "invalid_request", { query: { min_validity: ["-1"] } }],
    ["a min_validity over 3600", 400, "invalid_request", { query: { min_validity: ["3601"] } }],
    ["min_validity given twice", 400, "invalid_request", { query: { min_validity: ["1", "2"] } }],
    ["an unexpected query parameter", 400, "invalid_request", { query: { profile: ["x"] } }],
    ["a body", 400, "invalid_request", { body: "{}" }],
    [
      "a query on DELETE",
      400,
      "invalid_request",
      { method: "DELETE", callerArn: ADMIN_ROLE, query: { a: ["1"] } },
    ],
    ["a POST", 405, "invalid_request", { method: "POST" }],
    ["a caller not allowed", 403, "access_denied", { callerArn: STRANGER }],
    ["an unknown profile", 403, "access_denied", { profile: "nope" }],
    ["no caller identity", 403, "access_denied", { callerArn: null }],
    ["a DELETE by a non-admin", 403, "access_denied", { method: "DELETE" }],
  ])("answers %s with %i %s", async (_, status, error, options) => {
    const response = await call({ ...options, requestId: "req-42" });

    expect(response.statusCode).toBe(status);
    expect(response.headers).toMatchObject({
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
    });
    expect(response.json).toEqual({
      error,
      error_description: expect.any(String),
      request_id: "req-42",
    });
    expect(identity.requests).toHaveLength(0);
  });

  it("names the allowed methods on a 405", async () => {
    expect((await call({ method: "PUT" })).headers?.Allow).toBe("GET, DELETE");
  });

  it("answers a missing secret with 500 configuration_error", async () => {
    secrets.set("cyberark/ci-deployer", "not json");
    const response = await call();
    expect([response.statusCode, response.json.error]).toEqual([500, "configuration_error"]);
  });

  it("answers a rejection by CyberArk with 502 upstream_rejected, never its text", async () => {
    identity.fallback = () => {
      throw new UpstreamRejectedError({ status: 400, oauthError: "invalid_scope" });
    };
    const response = await call();
    expect([response.statusCode, response.json.error]).toEqual([502, "upstream_rejected"]);
    expect(response.body).not.toContain("invalid_scope");
  });

  it("answers an outage with 503 upstream_unavailable and Retry-After", async () => {
    identity.next.push(() => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 12,
      });
    });
    const response = await call();
    expect([response.statusCode, response.json.error]).toEqual([503, "upstream_unavailable"]);
    expect(response.headers?.["Retry-After"]).toBe("12");
  });

  it("answers an unexpected failure with a generic 500 and no detail", async () => {
    identity.next.push(() => {
      throw new TypeError("secret detail s3cret");
    });
    const response = await call();
    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({
      error: "server_error",
      error_description: "The token vending service failed unexpectedly.",
      request_id: "req-1",
    });
    expect(JSON.stringify(logger.lines)).not.toContain("s3cret");
  });
});

describe("unexpected-error log", () => {
  it("keeps only stack frame lines, whatever lines the error's message holds", async () => {
    identity.next.push(() => {
      throw new TypeError("first line\nclient_secret=s3cret\n    at looks-like-a-frame s3cret-too");
    });
    await call();

    const line = logger.lines.find((entry) => entry.message === "unexpected error");
    const stack = String(line?.attributes.stack);
    expect(stack).toMatch(/^ {4}at \S/);
    for (const frame of stack.split("\n")) expect(frame).toMatch(/^ {4}at /);
    expect(JSON.stringify(logger.lines)).not.toContain("s3cret");
  });
});

describe("events that did not come through this stack's API (direct invocation)", () => {
  it.each([
    ["an event of another API", { apiId: "zz9plural9" }],
    ["an event of another stage", { stage: "dev" }],
    ["an event without apiId", { apiId: null }],
    ["an event without stage", { stage: null }],
    ["a DELETE of another API", { apiId: "zz9plural9", method: "DELETE", callerArn: ADMIN_ROLE }],
  ] satisfies [string, EventOptions][])(
    "refuses %s with 403 access_denied, before any secret or CyberArk request",
    async (_, options) => {
      const response = await call(options);

      expect(response.statusCode).toBe(403);
      expect(response.json).toMatchObject({ error: "access_denied", request_id: "req-1" });
      expect(secrets.reads).toEqual([]);
      expect(identity.requests).toEqual([]);
    },
  );

  it.each([
    ["null", null],
    ["a string", "GET /tokens/ci-deployer"],
    ["an array", []],
  ])(
    "refuses a directly invoked %s event with 403 and an audit line, never a crash",
    async (_, event) => {
      const response = await handler(event as never, lambdaContext());

      expect(response.statusCode).toBe(403);
      expect(JSON.parse(response.body ?? "{}")).toMatchObject({ error: "access_denied" });
      expect(logger.lines.filter((line) => line.message === "token request")).toHaveLength(1);
    },
  );

  it("logs a refused event as access_denied, saying it did not come from this API", async () => {
    await call({ apiId: "zz9plural9" });

    const audit = logger.lines.filter((line) => line.message === "token request");
    expect(audit.map((line) => line.attributes)).toEqual([
      expect.objectContaining({
        status: 403,
        outcome: "access_denied",
        reason: "event not from this API",
      }),
    ]);
  });
});

describe("DELETE /tokens/{profile}", () => {
  it("answers 204 to an admin and the next GET gets a new token", async () => {
    await call();
    const deleted = await call({ method: "DELETE", callerArn: ADMIN_ROLE });
    expect([deleted.statusCode, deleted.body]).toEqual([204, ""]);
    expect((await call()).json.access_token).toBe("token-2");
  });
});

describe("audit log", () => {
  it("says which scope set was asked and which scopes were granted", async () => {
    identity.next.push(() => ({ accessToken: "tok", expiresIn: 3600, scope: "granted" }));
    await call();

    const [line] = logger.lines.filter((l) => l.message === "token request");
    // ci-deployer's default ask is the empty set: no scope sent, the app's own default granted.
    expect(line?.attributes).toMatchObject({ asked: "", granted: "granted", status: 200 });
  });

  it("counts on a DELETE's line the tokens it revoked (and any it skipped, with the reason)", async () => {
    secrets.set("cyberark/reports", { username: "svc-reports@example.com", password: "pw" });
    const reader = "arn:aws:sts::444455556666:assumed-role/any/s";
    await call({ profile: "reports-app", callerArn: reader });
    await call({ method: "DELETE", profile: "reports-app", callerArn: ADMIN_ROLE });

    const lines = logger.lines.filter((l) => l.message === "token request");
    const deleteLine = lines.find((l) => l.attributes.method === "DELETE");
    expect(deleteLine?.attributes).toMatchObject({ status: 204, revoked: "true", revokedCount: 1 });
    expect(deleteLine?.attributes).not.toHaveProperty("skipped"); // nothing was skipped
  });

  it("logs one line per request with caller, profile, outcome, cache level and token hash", async () => {
    await call();
    await call();
    await call({ callerArn: STRANGER });

    const audit = logger.lines.filter((line) => line.message === "token request");
    expect(audit.map((line) => line.attributes)).toEqual([
      expect.objectContaining({
        caller: CI_ROLE,
        profile: "ci-deployer",
        status: 200,
        outcome: "ok",
        cache: "upstream",
        tokenSha256: tokenFingerprint("token-1"),
      }),
      expect.objectContaining({ status: 200, outcome: "ok", cache: "memory" }),
      expect.objectContaining({
        caller: STRANGER,
        status: 403,
        outcome: "access_denied",
        reason: 'caller is not allowed for profile "ci-deployer"',
      }),
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain("token-1");
  });
});
