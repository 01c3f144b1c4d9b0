import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RenewalReport } from "../../functions/core/vendor-types.js";
import { startRenewalTimer, validRenewEvery } from "../../functions/local/renewal-timer.js";
import { MemoryLogger } from "../support/fakes.js";

const NOTHING: RenewalReport = { renewed: 0, fresh: 1, busy: 0, failed: 0 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the local server's renewal timer", () => {
  it("renews at start and then every interval", async () => {
    const renew = vi.fn(async () => NOTHING);
    const timer = startRenewalTimer(renew, 60, new MemoryLogger());

    expect(renew).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000 * 3);
    expect(renew).toHaveBeenCalledTimes(4);
    await timer.stop();
    await vi.advanceTimersByTimeAsync(60_000 * 3);
    expect(renew).toHaveBeenCalledTimes(4);
  });

  it("skips a tick while the previous run is still going, and stop() waits for that run", async () => {
    let finish: (report: RenewalReport) => void = () => {};
    const renew = vi.fn(() => new Promise<RenewalReport>((resolve) => (finish = resolve)));
    const timer = startRenewalTimer(renew, 1, new MemoryLogger());

    await vi.advanceTimersByTimeAsync(5_000);
    expect(renew).toHaveBeenCalledTimes(1);
    let stopped = false;
    const stopping = timer.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish(NOTHING);
    await stopping;
    expect(stopped).toBe(true);
  });

  it("is off at 0", async () => {
    const renew = vi.fn(async () => NOTHING);
    const timer = startRenewalTimer(renew, 0, new MemoryLogger());

    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(renew).not.toHaveBeenCalled();
    await timer.stop();
  });

  it("logs a run that renewed or failed, with its counts only", async () => {
    const logger = new MemoryLogger();
    const timer = startRenewalTimer(
      async () => ({ renewed: 1, fresh: 0, busy: 0, failed: 1 }),
      60,
      logger,
    );
    await timer.stop();

    expect(logger.lines).toEqual([
      {
        level: "warn",
        message: "scheduled renewal",
        attributes: { renewed: 1, fresh: 0, busy: 0, failed: 1 },
      },
    ]);
  });

  it.each([-1, 1.5, Number.NaN, 86_401])("refuses an interval of %s seconds", (seconds) => {
    expect(() => validRenewEvery(seconds)).toThrow(/--renew-every must be a whole number/);
  });
});
