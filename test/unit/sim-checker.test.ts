/**
 * The simulation's checker on hand-written stories: what it counts as a disturbance, and what it
 * does not excuse. The seeded runs cannot show this, since every change to the workload moves
 * every seed onto another path.
 */
import { describe, expect, it } from "vitest";
import type { CachedToken } from "../../functions/core/token.js";
import { Checker, INVARIANTS } from "../sim/invariants.js";
import { Trace } from "../sim/trace.js";

const START = Date.parse("2026-11-21T12:00:00Z");
const PROFILE = "ci-deployer";

function story({ answered = true } = {}) {
  let now = START;
  const checker = new Checker(
    new Trace(START, 10),
    () => now,
    () => "v1",
  );
  const at = (seconds: number) => {
    now = START + seconds * 1000;
  };
  // Instance 0 holds the lease and asks CyberArk for a 300 s token at t = 0.
  const request = checker.upstreamSent(0, PROFILE);
  const token: CachedToken = {
    cacheKey: "k",
    accessToken: "sim.ci-deployer.1",
    issuedAt: START,
    expiresAt: START + 300_000,
  };
  if (!answered) return { checker, at, token };
  at(0.5);
  checker.upstreamDone(PROFILE, request);
  checker.issued(token.accessToken, {
    profile: PROFILE,
    version: "v1",
    lifetimeSeconds: 300,
    sentAt: START,
    instance: 0,
    knownAt: undefined,
    stored: false,
  });
  return { checker, at, token };
}

describe("the simulation's checker", () => {
  it("counts a lease holder frozen before its token reached the table as a disturbance (seed 30068)", () => {
    const { checker, at, token } = story();
    checker.frozen(0); // with the answer in hand, past its 19.9 s lease
    at(19);
    checker.thawed(0);
    at(21.9);
    checker.tableWritten(0, PROFILE, token, token, START + 19_000, true);
    checker.upstreamSent(1, PROFILE); // took the lease over, read the table a moment before

    expect(checker.violations).toEqual([]);
  });

  it("does not excuse a second request when the holder was never frozen", () => {
    const { checker, at, token } = story();
    at(1);
    checker.tableWritten(0, PROFILE, token, token, START + 600, true);
    at(21.9);
    checker.upstreamSent(1, PROFILE);

    expect(checker.violations.map((v) => v.invariant)).toEqual([INVARIANTS.perLifetime]);
  });

  it("excuses a lease that failed open only until it would have ended", () => {
    const inWindow = story({ answered: false });
    inWindow.checker.leaseFailedOpen(1, PROFILE, START - 10_000);
    inWindow.at(0.2);
    inWindow.checker.upstreamSent(1, PROFILE); // while instance 0's request is in flight
    expect(inWindow.checker.violations).toEqual([]);

    const late = story({ answered: false });
    late.checker.leaseFailedOpen(1, PROFILE, START - 30_000); // its would-be lease ended at -10 s
    late.at(0.2);
    late.checker.upstreamSent(1, PROFILE);
    expect(late.checker.violations.map((v) => v.invariant)).toContain(INVARIANTS.oneInFlight);
  });

  it("flags a request inside a back-off the sender's last read would have seen", () => {
    const { checker, at } = story();
    checker.backOffRecorded(PROFILE, START + 120_000);
    at(5);
    checker.backOffRead(1, PROFILE, true);
    checker.upstreamSent(1, PROFILE);

    expect(checker.violations.map((v) => v.invariant)).toContain(INVARIANTS.backOff);
  });
});
