/**
 * A token obtained by a holder frozen mid-exchange does not escape a DELETE: when the holder's
 * answer arrives after a DELETE of its profile, the token is not served (by the holder, by any
 * instance) and is revoked.
 *
 * The freeze: instance A asks for a scope set other than the default (which takes a place among
 * the profile's live sets) and the tenant holds its answer. Meanwhile the clock shared by the
 * instances and the tenant moves on past A's lease and past the set's place (5 min today), as it
 * would for a Lambda instance frozen that long. Another set takes a place meanwhile (which prunes
 * the lapsed place of A's set); then instance B DELETEs the profile, and the tenant answers A.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SET, gate, OTHER_SET, RaceWorld } from "../support/race-world.js";

/** More than a set's place (5 min) and a refresh lease (19.9 s) last. */
const FREEZE_MS = 6 * 60_000;
/** A's held answer is held on the real clock; its identity client must not give up on it. */
const HELD_ATTEMPT_TIMEOUT_MS = 30_000;

/** A third scope set of the profile (neither the default nor A's). */
const BOTH_SETS = `${DEFAULT_SET} ${OTHER_SET}`;

const world = new RaceWorld();

beforeAll(() => world.start());
afterAll(() => world.stop());

describe("a holder frozen mid-exchange while its profile is deleted", () => {
  it("after the DELETE and the answer's release, the token is not served and is revoked", async () => {
    const a = world.instance({ attemptTimeoutMs: HELD_ATTEMPT_TIMEOUT_MS });
    const answer = gate();
    const held = gate();
    world.simulator.failNext({ kind: "hold", release: answer.opened, onHold: held.open });
    const asking = a({ scope: OTHER_SET });
    await held.opened;

    world.clock.offsetMs += FREEZE_MS;
    // Another set takes a place meanwhile, and the lapsed place of A's set is pruned with it.
    const other = await world.instance()({ scope: BOTH_SETS });
    expect(other.status, JSON.stringify(other.json)).toBe(200);
    const deleted = await world.instance()({ method: "DELETE" });
    expect(deleted.status).toBe(204);
    const issuedBefore = world.simulator.issued.length;
    answer.open();
    const thawed = await asking;
    const t = world.simulator.issued[issuedBefore] as string;
    expect(t, "the tenant answered the held request with a token").toBeDefined();

    const servedT: string[] = [];
    if (thawed.token === t) servedT.push(`A at thaw (${thawed.status})`);
    const again = await a({ scope: OTHER_SET });
    if (again.token === t) servedT.push("A afterwards");
    const fresh = await world.instance()({ scope: OTHER_SET });
    if (fresh.token === t) servedT.push("a fresh instance");
    expect(
      { servedBy: servedT, revoked: world.simulator.isRevoked(t) },
      "the token obtained across the DELETE: who served it, whether it was revoked",
    ).toEqual({ servedBy: [], revoked: true });
  });
});
