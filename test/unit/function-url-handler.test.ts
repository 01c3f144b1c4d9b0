/**
 * The function URL door: payload format 2.0 events through the same request handling as the REST
 * door, with the same answers, plus what no API Gateway answers for it (404 and 405).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { tokenFingerprint } from "../../functions/core/token.js";
import { functionUrlHandler } from "../../functions/vend/app.js";
import { ownFunctionUrl } from "../../functions/vend/own-function-url.js";
import { createVending } from "../../functions/vend/vending.js";
import {
  functionUrlEvent,
  lambdaContext,
  TEST_URL,
  TEST_URL_CONFIG,
  type UrlEventOptions,
} from "../support/events.js";
import { ADMIN_ROLE, CI_ROLE, STRANGER } from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

let h: VendorHarness;
let handler: ReturnType<typeof functionUrlHandler>;

beforeEach(() => {
  // Prepare
  h = vendorHarness();
  const vending = createVending({ vendor: h.newVendor(), clock: h.clock, logger: h.logger });
  handler = functionUrlHandler(
    vending,
    ownFunctionUrl(async () => TEST_URL_CONFIG, h.logger),
  );
});

async function call(options: UrlEventOptions = {}) {
  const response = await handler(
    functionUrlEvent({ callerArn: CI_ROLE, ...options }),
    lambdaContext(),
  );
  return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
}

const auditLines = () =>
  h.logger.lines.filter((line) => line.message === "token request").map((line) => line.attributes);

describe("function URL door: GET /tokens/{profile}", () => {
  it("answers 200 with the token body and no-store headers, audited with the IAM caller", async () => {
    h.identity.next.push(() => ({ accessToken: "tok", expiresIn: 17_421, scope: "granted" }));

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
    expect(auditLines()).toEqual([
      expect.objectContaining({
        requestId: "url-req-1",
        method: "GET",
        profile: "ci-deployer",
        caller: CI_ROLE,
        status: 200,
        outcome: "ok",
        cache: "upstream",
        tokenSha256: tokenFingerprint("tok"),
      }),
    ]);
  });

  it("passes min_validity from the raw query string through", async () => {
    await call();
    h.clock.advanceSeconds(3000);

    expect((await call({ rawQuery: "min_validity=599" })).json.access_token).toBe("token-1");
    expect((await call({ rawQuery: "min_validity=601" })).json.access_token).toBe("token-2");
  });
});

describe("function URL door: DELETE /tokens/{profile}", () => {
  it("answers 204 to an admin and the next GET gets a new token", async () => {
    await call();
    const deleted = await call({ method: "DELETE", callerArn: ADMIN_ROLE });
    expect([deleted.statusCode, deleted.body]).toEqual([204, ""]);
    expect((await call()).json.access_token).toBe("token-2");
  });
});

describe("function URL door: errors", () => {
  it.each<[string, number, string, UrlEventOptions]>([
    ["a malformed profile name", 400, "invalid_request", { path: "/tokens/Bad_Name" }],
    ["a bad min_validity", 400, "invalid_request", { rawQuery: "min_validity=3601" }],
    [
      "min_validity given twice",
      400,
      "invalid_request",
      { rawQuery: "min_validity=1&min_validity=2" },
    ],
    ["an unexpected query parameter", 400, "invalid_request", { rawQuery: "profile=x" }],
    ["a body", 400, "invalid_request", { body: "{}" }],
    ["the root path", 404, "invalid_request", { path: "/" }],
    ["a path under a profile", 404, "invalid_request", { path: "/tokens/ci-deployer/extra" }],
    ["another path", 404, "invalid_request", { path: "/admin" }],
    ["a POST", 405, "invalid_request", { method: "POST" }],
    ["a caller not allowed", 403, "access_denied", { callerArn: STRANGER }],
    ["an unknown profile", 403, "access_denied", { path: "/tokens/nope" }],
    ["a DELETE by a non-admin", 403, "access_denied", { method: "DELETE" }],
  ])("answers %s with %i %s and an audit line", async (_, status, error, options) => {
    const response = await call({ ...options, requestId: "url-req-42" });

    expect(response.statusCode).toBe(status);
    expect(response.headers).toMatchObject({
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      Pragma: "no-cache",
    });
    expect(response.json).toEqual({
      error,
      error_description: expect.any(String),
      request_id: "url-req-42",
    });
    expect(h.identity.requests).toHaveLength(0);
    expect(auditLines()).toEqual([expect.objectContaining({ status, outcome: error })]);
  });

  it("names the allowed methods on a 405", async () => {
    expect((await call({ method: "PUT" })).headers?.Allow).toBe("GET, DELETE");
  });

  it("answers an outage with 503 upstream_unavailable and Retry-After", async () => {
    h.identity.next.push(() => {
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
});

describe("function URL door: events that did not come through its own URL", () => {
  it.each<[string, UrlEventOptions]>([
    ["an event of another function URL", { urlId: "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" }],
    ["an event of another payload version", { version: "1.0" }],
    ["an event without an IAM authorizer", { callerArn: null }],
    ["a DELETE of another URL", { urlId: "other", method: "DELETE", callerArn: ADMIN_ROLE }],
    ["an event naming this URL's id on another host", { domainName: "example.com" }],
  ])(
    "refuses %s with 403 and an audit line, before any secret or CyberArk request",
    async (_, options) => {
      const response = await call(options);

      expect(response.statusCode).toBe(403);
      expect(response.json).toMatchObject({ error: "access_denied", request_id: "url-req-1" });
      expect(h.secrets.reads).toEqual([]);
      expect(h.identity.requests).toEqual([]);
      expect(auditLines()).toEqual([
        expect.objectContaining({
          status: 403,
          outcome: "access_denied",
          reason: "event not from this function URL",
        }),
      ]);
    },
  );

  it.each([
    ["null", null],
    ["a string", "GET /tokens/ci-deployer"],
    ["an array", []],
    ["a REST API event", { httpMethod: "GET", requestContext: { apiId: TEST_URL.urlId } }],
  ])(
    "refuses a directly invoked %s with 403 and an audit line, never a crash",
    async (_, event) => {
      const response = await handler(event, lambdaContext());

      expect(response.statusCode).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: "access_denied" });
      expect(auditLines()).toHaveLength(1);
    },
  );
});

describe("function URL door: the audit line of a made-up event", () => {
  it("leaves out the method and profile the event did not name", async () => {
    await handler(null, lambdaContext());

    const [line] = auditLines();
    // Undefined fields are left out of the JSON line.
    expect(line?.method).toBeUndefined();
    expect(line?.profile).toBeUndefined();
    expect(line).toMatchObject({ status: 403, outcome: "access_denied" });
  });
});
