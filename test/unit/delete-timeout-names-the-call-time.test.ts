/**
 * A DELETE is sent once, so its one attempt may use the call's whole time, and a stalled DELETE
 * times out as the call, naming the time it was given: `no answer to the call within N ms`.
 * Never `an attempt` within what was left of it when the request went out, which is what a
 * reader saw (`--timeout 0.5` ended with "no answer to an attempt within 496 ms") whenever the
 * clock moved between the call's start and the request: the attempt's timer, set to the time
 * left, then fired before the call's own.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenVendingClient } from "../../functions/client/client.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

let sent: number;
beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse("2026-11-21T12:00:00Z") });
  sent = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

/** A fetch that never answers, until its request is aborted. */
const stalled: typeof fetch = (_, init) => {
  sent += 1;
  return new Promise((_, reject) => {
    init?.signal?.addEventListener("abort", () =>
      reject(new DOMException("aborted", "AbortError")),
    );
  });
};

/**
 * The wall clock as a busy process reads it: a few ms further on at each read, while the timers,
 * which count from the event loop's cached time, have not moved.
 */
function busyClock(stepMs: number): () => number {
  let reads = 0;
  return () => {
    reads += 1;
    return Date.now() + stepMs * reads;
  };
}

describe("a stalled DELETE", () => {
  it.each([
    [500, 4],
    [4_000, 3],
    [30_000, 25],
  ])(
    "given %i ms, times out as the call naming that time, with the clock %i ms on at each read",
    async (timeoutMs, stepMs) => {
      const client = new TokenVendingClient({
        url: API,
        credentials,
        timeoutMs,
        now: busyClock(stepMs),
        fetch: stalled,
      });

      const pending = client.invalidate("ci").catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(timeoutMs);
      const error = await pending;

      expect(error).toMatchObject({
        code: "timeout",
        description: `no answer to the call within ${timeoutMs} ms`,
      });
      expect(sent).toBe(1);
    },
  );
});
