/**
 * The seeded interleaving simulation as part of the test suite: a fixed set of seeds, each two
 * simulated hours of 2 to 4 instances, rotations, DELETEs, faults and freezes (see test/sim/).
 * Each invariant is its own test, so a failure names the promise; its message names the seed,
 * the command that replays it, and the trace leading up to it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { INVARIANTS } from "../sim/invariants.js";
import {
  formatViolation,
  REGIMES,
  runSimulation,
  type SimulationResult,
} from "../sim/simulation.js";

/** The CI seeds: enough to meet every kind of event in every regime, few enough to run in seconds. */
const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);
const HOURS = 2;

describe("the vending core under seeded interleavings", () => {
  const results: SimulationResult[] = [];
  beforeAll(async () => {
    for (const seed of SEEDS) results.push(await runSimulation({ seed, hours: HOURS }));
  });

  it.each(Object.values(INVARIANTS))("%s", (invariant) => {
    const broken = results.flatMap((result) =>
      result.violations
        .filter((violation) => violation.invariant === invariant)
        .map((violation) => formatViolation(result.seed, violation).join("\n")),
    );
    // The message carries each seed's trace; a plain diff of it would be unreadable.
    if (broken.length > 0)
      expect.fail(`${broken.length} seed(s) broke it:\n\n${broken.join("\n\n")}`);
    expect(broken).toEqual([]);
  });

  it("exercises the workload it claims: requests, failures, DELETEs and CyberArk requests", () => {
    const total = (pick: (r: SimulationResult) => number) =>
      results.reduce((sum, r) => sum + pick(r), 0);
    expect(total((r) => r.stats.gets)).toBeGreaterThan(SEEDS.length * 500);
    expect(total((r) => r.stats.getFailures)).toBeGreaterThan(0);
    expect(total((r) => r.stats.deletes)).toBeGreaterThan(SEEDS.length);
    expect(total((r) => r.stats.upstreamRequests)).toBeGreaterThan(SEEDS.length * 10);
    expect(new Set(results.map((r) => r.stats.instances))).toEqual(new Set([2, 3, 4]));
  });

  it("runs every regime, and records CyberArk's back-offs in the table in every regime with faults", () => {
    expect(new Set(results.map((r) => r.regime))).toEqual(new Set(REGIMES));
    for (const regime of REGIMES) {
      const recorded = results
        .filter((r) => r.regime === regime)
        .reduce((sum, r) => sum + r.stats.backOffsRecorded, 0);
      if (regime === "healthy") expect(recorded, regime).toBe(0);
      else expect(recorded, regime).toBeGreaterThan(0);
    }
  });
});

describe("the simulation itself", () => {
  it("replays a seed exactly: same steps, same trace", async () => {
    const lines = (): string[] => [];
    const first = lines();
    const second = lines();
    const a = await runSimulation({ seed: 7, hours: 0.25, echo: (line) => first.push(line) });
    const b = await runSimulation({ seed: 7, hours: 0.25, echo: (line) => second.push(line) });
    expect(b.stats).toEqual(a.stats);
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(100);
  });

  it("never prints a token, only fingerprints", async () => {
    const trace: string[] = [];
    await runSimulation({ seed: 3, hours: 0.25, echo: (line) => trace.push(line) });
    expect(trace.join("\n")).not.toMatch(/sim\.(ci-deployer|reports-app)\.\d+/);
  });
});
