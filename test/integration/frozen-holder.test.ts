/**
 * A token obtained by a holder frozen mid-exchange does not escape a DELETE: when the holder's
 * answer arrives after a DELETE of its profile, the token is not served (by the holder, by any
 * instance) and is revoked.
 *
 * The freeze: the tenant holds instance A's answer while the clock shared by the instances and
 * the tenant moves on past A's lease (and, in the first case, past its set's place: 5 min today),
 * as it would for a Lambda instance frozen that long. Other instances act meanwhile; then the
 * tenant answers A.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_SET, gate, type Instance, OTHER_SET, RaceWorld } from "../support/race-world.js";

/** More than a set's place (5 min) and a refresh lease (19.9 s) last. */
const FREEZE_MS = 6 * 60_000;
/** A's held answer is held on the real clock; its identity client must not give up on it. */
const HELD_ATTEMPT_TIMEOUT_MS = 30_000;
/** A third scope set of the profile (neither the default nor the other). */
const BOTH_SETS = `${DEFAULT_SET} ${OTHER_SET}`;

let world: RaceWorld;

beforeEach(async () => {
  world = new RaceWorld();
  await world.start();
});

afterEach(() => world.stop());

/** Instance A asks for `scope`; the tenant holds the answer until `thaw()`. */
async function frozenHolder(scope: string) {
  const a = world.instance({ attemptTimeoutMs: HELD_ATTEMPT_TIMEOUT_MS });
  const answer = gate();
  const held = gate();
  world.simulator.failNext({ kind: "hold", release: answer.opened, onHold: held.open });
  const asking = a({ scope });
  await held.opened;
  world.clock.offsetMs += FREEZE_MS;
  return {
    a,
    /** Releases the held answer: A's answer, and the token the tenant gave it. */
    thaw: async () => {
      const issuedBefore = world.simulator.issued.length;
      answer.open();
      const thawed = await asking;
      const token = world.simulator.issued[issuedBefore] as string;
      expect(token, "the tenant answered the held request with a token").toBeDefined();
      return { thawed, token };
    },
  };
}

/** Whether anyone served `token` (A at thaw, A again, a fresh instance), and whether it was revoked. */
async function expectEscapedNothing(
  token: string,
  thawed: { status: number; token?: string },
  a: Instance,
  scope: string,
): Promise<void> {
  const servedBy: string[] = [];
  if (thawed.token === token) servedBy.push(`A at thaw (${thawed.status})`);
  if ((await a({ scope })).token === token) servedBy.push("A afterwards");
  if ((await world.instance()({ scope })).token === token) servedBy.push("a fresh instance");
  expect(
    { servedBy, revoked: world.simulator.isRevoked(token) },
    "the token obtained across the DELETE: who served it, whether it was revoked",
  ).toEqual({ servedBy: [], revoked: true });
}

describe("a holder frozen mid-exchange while its profile is deleted", () => {
  it("its set's place lapsed and was pruned meanwhile: after the DELETE and the answer's release, the token is not served and is revoked", async () => {
    const { a, thaw } = await frozenHolder(OTHER_SET);
    // Another set takes a place meanwhile, and the lapsed place of A's set is pruned with it.
    const other = await world.instance()({ scope: BOTH_SETS });
    expect(other.status, JSON.stringify(other.json)).toBe(200);
    expect((await world.instance()({ method: "DELETE" })).status).toBe(204);

    const { thawed, token } = await thaw();

    await expectEscapedNothing(token, thawed, a, OTHER_SET);
  });

  it("its lease ran out and another instance refilled the set after the DELETE: the token is not served and is revoked", async () => {
    const { a, thaw } = await frozenHolder(DEFAULT_SET);
    expect((await world.instance()({ method: "DELETE" })).status).toBe(204);
    // Another instance refills the set after the DELETE.
    const refilled = await world.instance()();
    expect(refilled.status, JSON.stringify(refilled.json)).toBe(200);

    const { thawed, token } = await thaw();

    await expectEscapedNothing(token, thawed, a, DEFAULT_SET);
  });
});
