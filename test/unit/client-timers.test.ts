/**
 * The client's own waits and time limits on the timers it really uses (`setTimeout`), driven by
 * Vitest's fake timers: no injected sleep or clock, no real waiting.
 */
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../../functions/client/cli.js";
import { TokenVendingClient } from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import { DEFAULT_RETRY_POLICY, retryDelayMs } from "../../functions/client/retry-policy.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const token = {
  access_token: "t1",
  token_type: "Bearer",
  expires_in: 3600,
  expires_at: "2026-11-21T13:00:00Z",
  profile: "ci",
};

let sent: number[];
beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse("2026-11-21T12:00:00Z") });
  sent = [];
});
afterEach(() => {
  vi.useRealTimers();
});

/** A fetch answering from `answers` in turn; `"stall"` waits until the request is aborted. */
function scripted(...answers: (Response | "stall")[]): typeof fetch {
  return (_, init) => {
    sent.push(Date.now());
    const answer = answers.shift() ?? new Response(JSON.stringify(token), { status: 200 });
    if (answer !== "stall") return Promise.resolve(answer);
    return new Promise((_, reject) => {
      init?.signal?.addEventListener("abort", () =>
        reject(new DOMException("aborted", "AbortError")),
      );
    });
  };
}

const unavailable = (retryAfter: string) =>
  new Response(JSON.stringify({ error: "upstream_unavailable", error_description: "x" }), {
    status: 503,
    headers: { "retry-after": retryAfter },
  });

describe("TokenVendingClient on fake timers", () => {
  it("sends the retry no sooner than the Retry-After, and then resolves", async () => {
    const client = new TokenVendingClient({
      url: API,
      credentials,
      fetch: scripted(unavailable("2")),
    });

    const pending = client.getToken("ci");
    await vi.advanceTimersByTimeAsync(1_999);
    const beforeRetryAfter = sent.length;
    await vi.advanceTimersByTimeAsync(1);

    await expect(pending).resolves.toMatchObject({ access_token: "t1" });
    expect(beforeRetryAfter).toBe(1);
    expect(sent.map((at) => at - (sent[0] ?? 0))).toEqual([0, 2_000]);
  });

  it("times out a server that never answers at 10 s by default, after a second attempt at 5 s", async () => {
    const client = new TokenVendingClient({
      url: API,
      credentials,
      random: () => 0,
      fetch: scripted("stall", "stall", "stall"),
    });

    const pending = client.getToken("ci").catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    const error = await pending;

    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toMatchObject({ code: "timeout", retryable: true });
    expect(sent.map((at) => at - (sent[0] ?? 0))).toEqual([0, 5_000]);
  });

  it("stops waiting to retry the moment the caller aborts", async () => {
    const controller = new AbortController();
    const client = new TokenVendingClient({
      url: API,
      credentials,
      fetch: scripted(unavailable("5")),
    });

    const pending = client.getToken("ci", { signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort();

    expect(await pending).toMatchObject({ code: "aborted" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("a DELETE on fake timers: sent once, its one attempt may use the whole time", () => {
  it.each([
    ["the client's default 10 s", {}, {}, 10_000],
    ["a client's timeoutMs of 4 s", { timeoutMs: 4_000 }, {}, 4_000],
    ["a call's timeoutMs of 1 s", {}, { timeoutMs: 1_000 }, 1_000],
    ["an attemptTimeoutMs of 1 s in a 10 s call", { attemptTimeoutMs: 1_000 }, {}, 10_000],
  ])(
    "waits %s for a stalled server, then times out naming that time",
    async (_, clientOptions, callOptions, timeoutMs) => {
      const client = new TokenVendingClient({
        url: API,
        credentials,
        ...clientOptions,
        fetch: scripted("stall", "stall"),
      });

      const pending = client.invalidate("ci", callOptions).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(timeoutMs - 1);
      const early = await Promise.race([pending, Promise.resolve("still waiting")]);
      await vi.advanceTimersByTimeAsync(1);
      const error = await pending;

      expect(early).toBe("still waiting");
      expect(error).toBeInstanceOf(TokenVendingError);
      expect(error).toMatchObject({
        code: "timeout",
        description: `no answer to the call within ${timeoutMs} ms`,
      });
      expect(sent).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    },
  );

  it("cyberark-token delete waits its --timeout (4 s), and the default 30 s, for a stalled server", async () => {
    for (const [args, timeoutMs] of [
      [["--timeout", "4"], 4_000],
      [[], 30_000],
    ] as const) {
      sent = [];
      let stderr = "";
      const exit = runCli(["delete", "ci", "--url", API, ...args], {
        stdout: () => {},
        stderr: (text) => {
          stderr += text;
        },
        env: {},
        newClient: (options) =>
          new TokenVendingClient({ ...options, credentials, fetch: scripted("stall") }),
      });
      await vi.advanceTimersByTimeAsync(timeoutMs - 1);
      const early = stderr;
      await vi.advanceTimersByTimeAsync(1);

      expect(early).toBe("");
      expect(await exit).toBe(1);
      expect(stderr).toBe(
        `cyberark-token: timeout: no answer to the call within ${timeoutMs} ms\n`,
      );
      expect(sent).toHaveLength(1);
    }
  });
});

describe("the retry policy", () => {
  const retryable = new TokenVendingError({ code: "network_error", description: "x" });

  it("never waits past the call's deadline, never less than a Retry-After, and stops after maxAttempts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.option(fc.integer({ min: 0, max: 300_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (attempts, retryAfterMs, remainingMs, random) => {
          const delay = retryDelayMs(
            DEFAULT_RETRY_POLICY,
            { attempts, error: retryable, retryAfterMs, remainingMs },
            () => random,
          );
          if (delay === undefined) return;
          expect(attempts).toBeLessThan(DEFAULT_RETRY_POLICY.maxAttempts);
          expect(delay).toBeLessThan(remainingMs);
          if (retryAfterMs !== undefined) expect(delay).toBe(retryAfterMs);
          else expect(delay).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.maxDelayMs);
        },
      ),
    );
  });

  it.each([400, 401, 403, 404, 405, 409, 500, 501])("never retries a %i", (status) => {
    const error = new TokenVendingError({ code: "http_error", status, description: "x" });
    expect(
      retryDelayMs(
        DEFAULT_RETRY_POLICY,
        { attempts: 1, error, retryAfterMs: 0, remainingMs: 10_000 },
        () => 0,
      ),
    ).toBeUndefined();
  });
});
