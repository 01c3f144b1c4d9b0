/**
 * The client against a server that misbehaves, over real HTTP: it never waits longer than its
 * timeout, retries what may succeed a moment later with back-off (waits recorded on a fake clock),
 * never retries a refusal, and keeps, forgets and refreshes its own copies as asked.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import { type FlakyApi, startFlakyApi } from "../support/flaky-api.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
let api: FlakyApi;
let now: number;
let sleeps: number[];

beforeAll(async () => {
  api = await startFlakyApi();
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.reset();
  now = Date.parse("2026-11-21T12:00:00Z");
  sleeps = [];
});

/** A client on a fake clock: waits between attempts are recorded and advance the clock at once. */
function fakeClockClient(options: Partial<TokenVendingClientOptions> = {}) {
  return new TokenVendingClient({
    url: api.url,
    credentials,
    now: () => now,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    ...options,
  });
}

/** A client on the real clock. */
function realClockClient(options: Partial<TokenVendingClientOptions> = {}) {
  return new TokenVendingClient({ url: api.url, credentials, ...options });
}

async function failure(promise: Promise<unknown>): Promise<TokenVendingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenVendingError);
  return error as TokenVendingError;
}

describe("TokenVendingClient retries", () => {
  it("rides out a stall, a reset, 429 and 503 with Retry-After, 502 and 504, then returns the token: one attempt each, Retry-After honoured, full jitter otherwise", async () => {
    api.script(
      { kind: "stall" },
      { kind: "reset" },
      { kind: "status", status: 429, retryAfter: "1", body: { message: "Too Many Requests" } },
      {
        kind: "status",
        status: 503,
        retryAfter: "2",
        body: { error: "upstream_unavailable", error_description: "x", request_id: "r1" },
      },
      { kind: "status", status: 502, body: { message: "Internal server error" } },
      { kind: "status", status: 504, body: { message: "Endpoint request timed out" } },
      { kind: "token", token: "after-the-storm" },
    );

    const token = await fakeClockClient({
      attemptTimeoutMs: 300,
      retry: { maxAttempts: 7 },
    }).getToken("ci");

    expect(token.access_token).toBe("after-the-storm");
    expect(api.requests).toHaveLength(7);
    // random 0.5: half of min(5000, 200 * 2^(retry - 1)); the Retry-After values in full.
    expect(sleeps).toEqual([100, 200, 1000, 2000, 1600, 2500]);
  });

  it("gives up after maxAttempts (4 by default) with the last answer's error, marked retryable", async () => {
    api.script(
      ...Array.from({ length: 5 }, () => ({
        kind: "status" as const,
        status: 502,
        body: { message: "Bad Gateway" },
      })),
    );

    const error = await failure(fakeClockClient().getToken("ci"));

    expect(api.requests).toHaveLength(4);
    expect(error).toMatchObject({ status: 502, code: "http_error", retryable: true });
  });

  it("stops at once when a Retry-After is longer than the time the call has left, and comes back no sooner", async () => {
    api.script({
      kind: "status",
      status: 503,
      retryAfter: "30",
      body: { error: "upstream_unavailable", error_description: "Busy.", request_id: "r-9" },
    });

    const error = await failure(fakeClockClient().getToken("ci"));

    expect(api.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({
      status: 503,
      code: "upstream_unavailable",
      error: "upstream_unavailable",
      request_id: "r-9",
      retryable: true,
    });
  });

  it("reports a 429 from API Gateway as throttled, retryable", async () => {
    api.script(
      ...Array.from({ length: 4 }, () => ({
        kind: "status" as const,
        status: 429,
        body: { message: "Too Many Requests" },
      })),
    );

    const error = await failure(fakeClockClient().getToken("ci"));

    expect(api.requests).toHaveLength(4);
    expect(error).toMatchObject({ status: 429, code: "throttled", retryable: true });
  });

  it.each([
    [
      400,
      { error: "invalid_request", error_description: "Bad.", request_id: "r1" },
      "invalid_request",
    ],
    [403, { error: "access_denied", error_description: "No.", request_id: "r2" }, "access_denied"],
    [403, { message: "Missing Authentication Token" }, "access_denied"],
    [404, { message: "Not Found" }, "http_error"],
    [
      500,
      { error: "configuration_error", error_description: "x", request_id: "r3" },
      "configuration_error",
    ],
  ])("never retries a %i (%j): one request, code %s, not retryable", async (status, body, code) => {
    api.script({ kind: "status", status, body });

    const error = await failure(fakeClockClient().getToken("ci"));

    expect(api.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({ status, code, retryable: false });
  });

  it.each(HOSTILE_TOKENS)(
    "refuses a 200 whose token has %s: invalid_token, not retried, the token in no message",
    async (_, token) => {
      api.script({ kind: "token", token });

      const error = await failure(fakeClockClient().getToken("ci"));

      expect(api.requests).toHaveLength(1);
      expect(error).toMatchObject({ status: 200, code: "invalid_token", retryable: false });
      expect(`${error.message} ${error.description}`).not.toContain(token);
    },
  );
});

describe("TokenVendingClient time limits", () => {
  it("times out against a server that never answers: code timeout, after trying a second connection", async () => {
    api.script({ kind: "stall" }, { kind: "stall" }, { kind: "stall" });

    const error = await failure(realClockClient({ timeoutMs: 400 }).getToken("ci"));

    expect(error).toMatchObject({ code: "timeout", status: 0, retryable: true });
    // Each attempt may use half the call's time: a stalled connection is tried once more.
    expect(api.requests).toHaveLength(2);
  });

  it("takes a per-call timeoutMs over the client's", async () => {
    api.script({ kind: "stall" }, { kind: "stall" });
    const client = realClockClient({ timeoutMs: 60_000 });

    const error = await failure(client.getToken("ci", { timeoutMs: 200 }));

    expect(error.code).toBe("timeout");
  });

  it("rejects with code aborted when the caller's signal fires, mid-request", async () => {
    api.script({ kind: "stall" });
    const controller = new AbortController();
    const pending = realClockClient().getToken("ci", { signal: controller.signal });
    await expect.poll(() => api.requests.length).toBe(1);

    controller.abort(new Error("shutting down"));

    const error = await failure(pending);
    expect(error).toMatchObject({ code: "aborted", retryable: false });
    expect((error.cause as Error).message).toBe("shutting down");
  });

  it("rejects with code aborted while waiting to retry, without another attempt", async () => {
    api.script({ kind: "status", status: 503, retryAfter: "5", body: {} });
    const controller = new AbortController();
    const pending = realClockClient().getToken("ci", { signal: controller.signal });
    await expect.poll(() => api.requests.length).toBe(1);

    controller.abort();

    expect((await failure(pending)).code).toBe("aborted");
    expect(api.requests).toHaveLength(1);
  });

  it("sends nothing for a signal already aborted", async () => {
    const error = await failure(realClockClient().getToken("ci", { signal: AbortSignal.abort() }));
    expect(error.code).toBe("aborted");
    expect(api.requests).toEqual([]);
  });

  it("lets one caller give up without failing another that shares its request", async () => {
    api.script({ kind: "status", status: 503, retryAfter: "0.2", body: {} });
    const client = realClockClient();
    const controller = new AbortController();
    const leaving = client.getToken("ci", { signal: controller.signal });
    const staying = client.getToken("ci");
    await expect.poll(() => api.requests.length).toBe(1);

    controller.abort();

    expect((await failure(leaving)).code).toBe("aborted");
    await expect(staying).resolves.toMatchObject({ access_token: "token-1" });
    expect(api.requests).toHaveLength(2);
  });
});

describe("TokenVendingClient cache", () => {
  it("invalidate sends a signed DELETE and drops its own copy, so the next getToken asks again", async () => {
    const client = fakeClockClient();
    await client.getToken("ci");
    await client.getToken("ci");

    await client.invalidate("ci");
    const after = await client.getToken("ci");

    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /v1/tokens/ci?min_validity=300",
      "DELETE /v1/tokens/ci",
      "GET /v1/tokens/ci?min_validity=300",
    ]);
    expect(api.requests[1]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
    expect(after.access_token).toBe("token-2");
  });

  it("invalidate drops every scope set of the profile and leaves other profiles alone", async () => {
    const client = fakeClockClient();
    await client.getToken("ci", { scope: "a" });
    await client.getToken("ci", { scope: "b" });
    await client.getToken("other");

    await client.invalidate("ci");
    await client.getToken("ci", { scope: "a" });
    await client.getToken("ci", { scope: "b" });
    await client.getToken("other");

    expect(api.requests.filter((r) => r.method === "GET")).toHaveLength(5);
  });

  it("invalidate throws the service's error (403 for a caller that is not an admin), once, and still drops the copy", async () => {
    const client = fakeClockClient();
    await client.getToken("ci");
    api.script({
      kind: "status",
      status: 403,
      body: { error: "access_denied", error_description: "No.", request_id: "r-4" },
    });

    const error = await failure(client.invalidate("ci"));
    await client.getToken("ci");

    expect(error).toMatchObject({ status: 403, code: "access_denied", request_id: "r-4" });
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "DELETE", "GET"]);
  });

  it("returns, but does not keep, a token asked for before an invalidate, and a later call does not join that request", async () => {
    api.script({ kind: "status", status: 503, retryAfter: "0.3", body: {} });
    const client = realClockClient();
    const before = client.getToken("ci");
    await expect.poll(() => api.requests.length).toBe(1);

    await client.invalidate("ci");
    const joinedLater = client.getToken("ci");

    const [early, late] = await Promise.all([before, joinedLater]);
    expect(early.access_token).not.toBe(late.access_token);
    expect((await client.getToken("ci")).access_token).toBe(late.access_token);
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "DELETE", "GET", "GET"]);
  });

  it("does not retry a DELETE", async () => {
    api.script({ kind: "status", status: 503, retryAfter: "1", body: {} });

    await failure(fakeClockClient().invalidate("ci"));

    expect(api.requests).toHaveLength(1);
  });

  it("forceRefresh asks the service again although a valid copy is held, and keeps the new token", async () => {
    const client = fakeClockClient();
    const first = await client.getToken("ci");

    const forced = await client.getToken("ci", { forceRefresh: true });
    const later = await client.getToken("ci");

    expect(first.access_token).toBe("token-1");
    expect(forced.access_token).toBe("token-2");
    expect(later.access_token).toBe("token-2");
    expect(api.requests).toHaveLength(2);
  });

  it("keys its copies by profile and scope set, and sends the set normalised as ?scope=", async () => {
    const client = fakeClockClient();

    const ab = await client.getToken("ci", { scope: "b a b" });
    const sameSet = await client.getToken("ci", { scope: ["a", "b"] });
    const other = await client.getToken("ci", { scope: "a" });
    const none = await client.getToken("ci");

    expect(sameSet.access_token).toBe(ab.access_token);
    expect(new Set([ab.access_token, other.access_token, none.access_token]).size).toBe(3);
    expect(api.requests.map((r) => r.url)).toEqual([
      "/v1/tokens/ci?min_validity=300&scope=a+b",
      "/v1/tokens/ci?min_validity=300&scope=a",
      "/v1/tokens/ci?min_validity=300",
    ]);
  });
});
