/**
 * Every request to CyberArk is covered by the profile's back-off and the set's lease, retries
 * included: an identity client's second attempt is a request like the first, and is not sent when
 * another instance has since recorded a back-off of the profile, or when the set's lease has
 * passed to another instance.
 *
 * The tenant counts token requests per scope set. Instance A's first attempt is held by the
 * tenant (a gate the test opens), then fails with a retryable 500; what happens meanwhile is
 * staged on other instances.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_SET, gate, OTHER_SET, RaceWorld } from "../support/race-world.js";

// A world of its own for each test: a back-off outlives a DELETE, as it should.
let world: RaceWorld;

/**
 * A's first attempt is held on the real clock until the test opens the gate; its identity client
 * must not give up on it meanwhile (the deployed per-attempt timeout is 1.5 s, and the steps
 * staged while it waits take moto calls), so the held instance gets a longer one.
 */
const HELD_ATTEMPT_TIMEOUT_MS = 30_000;

/** More than a refresh lease (`LEASE_MS`, 19.9 s today): a holder frozen this long has lost it. */
const FREEZE_MS = 60_000;

beforeEach(async () => {
  world = new RaceWorld();
  await world.start();
});

afterEach(() => world.stop());

/** Queues a hold of the next token request, answered 500 once the gate opens. */
function holdNextThen500() {
  const answer = gate();
  const held = gate();
  world.simulator.failNext({
    kind: "hold",
    release: answer.opened,
    onHold: held.open,
    after: { kind: "status", status: 500 },
  });
  return { held: held.opened, release: answer.open };
}

describe("an identity client retry is a request like any other", () => {
  it("sends no retry after another instance recorded a 120 s back-off of the profile (429 Retry-After: 120)", async () => {
    const a = world.instance({ attemptTimeoutMs: HELD_ATTEMPT_TIMEOUT_MS });
    const b = world.instance();
    const first = holdNextThen500();
    const asking = a();
    await first.held;

    // B asks another set of the profile and is told to back off for 120 s.
    world.simulator.failNext({ kind: "status", status: 429, retryAfter: "120" });
    const backedOff = await b({ scope: OTHER_SET });
    expect(backedOff.status).toBe(503);
    expect(Number(backedOff.headers["Retry-After"])).toBeGreaterThan(100);
    // A itself now refuses the other set: it knows of the back-off.
    const refused = await a({ scope: OTHER_SET });
    expect(refused.status).toBe(503);
    expect(world.tokenRequests(OTHER_SET), "A sent nothing for the other set").toBe(1);

    first.release();
    const answer = await asking;

    expect(
      world.tokenRequests(DEFAULT_SET),
      `token requests for A's set while the profile backs off (A answered ${answer.status})`,
    ).toBe(1);
    expect(answer.status).toBe(503);
  });

  it("sends no retry once the set's lease has passed to another instance (A frozen past its lease while its first attempt was out)", async () => {
    const a = world.instance({ attemptTimeoutMs: HELD_ATTEMPT_TIMEOUT_MS });
    const b = world.instance();
    const first = holdNextThen500();
    const asking = a();
    await first.held;

    // A stands still past its lease: B finds the lease ended, takes it and obtains the token.
    world.clock.offsetMs += FREEZE_MS;
    const byB = await b();
    expect(byB.status).toBe(200);
    expect(world.tokenRequests(DEFAULT_SET)).toBe(2);

    first.release();
    const answer = await asking;

    expect(
      world.tokenRequests(DEFAULT_SET),
      `token requests for the set: A's first, B's (A answered ${answer.status})`,
    ).toBe(2);
  });
});
