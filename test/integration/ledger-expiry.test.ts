/**
 * A DELETE revokes every token CyberArk still honours: the ledger keeps a token at least as long
 * as CyberArk does, its lifetime counted from when the answer arrived, not from when the first
 * attempt left (for serving, the earlier count is the safe one; for revocation, the later).
 *
 * On the real clock, with short lifetimes: the tenant holds the first attempt for 1 s and fails
 * it (500), then holds the retry for 1 s and grants a 5 s token T. So T arrives more than 2 s
 * after its first attempt left. A later request (wanting more than T has left) replaces T in the
 * table with T'; T is then only in the ledger. A DELETE at (first attempt + 5 s + a little), while
 * T is still alive at the tenant, must revoke T.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gate, RaceWorld, sleep } from "../support/race-world.js";

const LIFETIME_SECONDS = 5;
/** A caller's min_validity is capped at half the granted lifetime (whole seconds). */
const CAPPED_MIN_VALIDITY_SECONDS = Math.floor(LIFETIME_SECONDS / 2);
const HOLD_MS = 1_000;

const world = new RaceWorld();

beforeAll(() => world.start());
afterAll(() => world.stop());

/** Queues a hold of the next token request for `HOLD_MS`; resolves the time it was held at. */
function holdNext(after?: { kind: "status"; status: number }): Promise<number> {
  const held = gate();
  let heldAt = 0;
  world.simulator.failNext({
    kind: "hold",
    release: held.opened.then(() => sleep(HOLD_MS)),
    onHold: () => {
      heldAt = Date.now();
      held.open();
    },
    ...(after ? { after } : {}),
  });
  return held.opened.then(() => heldAt);
}

describe("the ledger counts a token's life from its answer's arrival", () => {
  it("a DELETE after (first attempt + lifetime) but before (arrival + lifetime) revokes the token", async () => {
    const a = world.instance();
    const firstAttemptAt = holdNext({ kind: "status", status: 500 });
    void holdNext();
    world.simulator.grantNext({ expiresIn: LIFETIME_SECONDS });

    const first = await a({ minValidity: 0 });
    const arrivedBy = Date.now();
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    const t = first.token as string;
    const leftAt = await firstAttemptAt;
    expect(world.simulator.requests.length, "a first attempt and its retry").toBe(2);
    // The answer came more than two holds after the first attempt left.
    expect(arrivedBy - leftAt).toBeGreaterThanOrEqual(2 * HOLD_MS);

    // Less than half of T's life left, counted from the first attempt (issued no later than it
    // reached the tenant): too short for a default caller (min_validity capped at half the
    // lifetime), who gets T' (an hour long), which replaces T in the table.
    await sleep(
      leftAt + (LIFETIME_SECONDS - CAPPED_MIN_VALIDITY_SECONDS) * 1000 + 300 - Date.now(),
    );
    const second = await a();
    expect(second.status, JSON.stringify(second.json)).toBe(200);
    expect(second.token).not.toBe(t);

    // After T's life counted from the first attempt, well before it counted from the arrival.
    await sleep(leftAt + LIFETIME_SECONDS * 1000 + 300 - Date.now());
    expect(await world.isActive(t), "the tenant still honours T").toBe(true);
    const deleted = await world.instance()({ method: "DELETE" });
    const deletedBy = Date.now();
    expect(deleted.status).toBe(204);
    // Sanity of the staging: the DELETE ended before T's life counted from the arrival (which
    // came at least two holds after the first attempt left).
    expect(deletedBy).toBeLessThan(leftAt + 2 * HOLD_MS + LIFETIME_SECONDS * 1000);

    expect(world.simulator.isRevoked(second.token as string), "T' (dropped) is revoked").toBe(true);
    expect(world.simulator.isRevoked(t), "T, alive at the tenant, is revoked").toBe(true);
  });
});
