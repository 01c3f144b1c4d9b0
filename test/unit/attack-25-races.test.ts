/**
 * Review of issue 25 (second round): the promises of "How caching works", the scope sets, the
 * ledger and the contract's sections 3 and 4, attacked under seeded interleavings of several
 * function instances sharing one table (`test/support/attack-25-world.ts`, written from the README,
 * not from `test/sim`), and one interleaving found by it, pinned down step by step.
 */
import { describe, expect, it } from "vitest";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { runWorld, worldConfig } from "../support/attack-25-world.js";
import { caller } from "../support/fakes.js";
import { ciDelete, ciQuery, vendorHarness } from "../support/vendor-harness.js";

const HEALTHY_SEEDS = Array.from({ length: 150 }, (_, i) => i + 1);
const CHAOS_SEEDS = Array.from({ length: 150 }, (_, i) => i + 1001);

describe("attack: seeded interleavings of GETs of many scope sets, DELETEs, renewals, 429s and clock jumps", () => {
  it("hold every promise while the table is healthy (one request in flight per set, one per lifetime, the bound, back-offs, DELETEs, revocation)", async () => {
    const failures: string[] = [];
    for (const seed of HEALTHY_SEEDS) {
      const run = await runWorld({ seed, steps: 500, chaos: false });
      failures.push(...run.violations.map((v) => `seed ${seed}: ${v}`));
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it("hold every promise that survives table failures and frozen table calls (never expired, never another set, never broader, no crash, no hang, DELETEs)", async () => {
    const failures: string[] = [];
    for (const seed of CHAOS_SEEDS) {
      const run = await runWorld({ seed, steps: 500, chaos: true });
      failures.push(...run.violations.map((v) => `seed ${seed}: ${v}`));
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it("hold them too when two events fall on the same millisecond (seed 43, the clock still between steps)", async () => {
    const run = await runWorld({ seed: 43, steps: 500, chaos: false, tick: 0 });
    expect(run.violations).toEqual([]);
  }, 60_000);
});

describe("attack: two DELETEs in the same millisecond", () => {
  it("a token obtained with credentials read before the second DELETE is never served from the table after its 204", async () => {
    const h = vendorHarness();
    const [a, b, c] = [h.newVendor(), h.newVendor(), h.newVendor()];
    // A first DELETE records itself on the profile's item at t.
    await a.invalidate(ciDelete());
    // Instance B misses, reads the table (the DELETE record of t) and its credentials, and asks
    // CyberArk; the answer is held.
    const release = h.heldResponse("read-before-second-delete", 3600);
    const pending = b.getToken(ciQuery());
    await h.upstreamAsked(1);
    // A second DELETE (a rotation after a leak, say) within the same millisecond: its 204 comes now.
    await a.invalidate(ciDelete());
    release();
    await pending.catch(() => undefined);

    // A GET that begins after the second DELETE's 204, on a third instance, reads the table.
    const served = await c.getToken(ciQuery());
    expect(served.token.accessToken).not.toBe("read-before-second-delete");
  });
});

describe("attack: work that took a set's place before a DELETE", () => {
  it("asks CyberArk only while its set holds a place (seeded: the DELETE drops every place, the set asks on without one)", async () => {
    const run = await runWorld({ seed: 9, steps: 500, chaos: false });
    expect(run.placeAfterDelete).toEqual([]);
  }, 60_000);

  it("a waiter that took over the lease after a DELETE dropped its set's place does not ask CyberArk without one", async () => {
    const h = vendorHarness();
    h.secrets.set("cyberark/app", { client_id: "app@example.com", client_secret: "a" });
    const config = worldConfig();
    const make = () =>
      new TokenVendor({
        config,
        secrets: h.secrets,
        store: h.store,
        identity: h.identity,
        clock: h.clock,
        logger: h.logger,
        // Polls let other work run; the fake clock stands still (the whole race takes under 2 s).
        sleep: () => new Promise((resolve) => setTimeout(resolve, 1)),
        random: () => 0.5,
      });
    const [a, b, c] = [make(), make(), make()];
    const set = scopeSetOf(["s1"]);
    const runner = caller("arn:aws:sts::111122223333:assumed-role/runner/x");
    const query = { profile: "app", caller: runner, minValiditySeconds: 300, scope: set };

    // A takes the set's place and the lease, and asks CyberArk (held); B waits on the lease.
    let answerFirst: () => void = () => {};
    const firstAnswered = new Promise<void>((resolve) => {
      answerFirst = resolve;
    });
    h.identity.next.push(async () => {
      await firstAnswered;
      // A grant broader than asked: unusable, so A's attempt fails and gives the lease back.
      return { accessToken: "broader", expiresIn: 3600, scope: "s1 s2" };
    });
    const first = a.getToken(query).catch(() => undefined);
    await h.upstreamAsked(1);
    const second = b.getToken(query).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A DELETE elsewhere, a millisecond later, drops every set, and every place.
    h.clock.advanceSeconds(0.001);
    await c.invalidate({
      profile: "app",
      caller: caller("arn:aws:sts::111122223333:assumed-role/admin/alice"),
    });
    const placeWhenAsked: (number | undefined)[] = [];
    h.identity.next.push(() => {
      placeWhenAsked.push(h.store.profiles.get("app")?.live.get(set));
      return { accessToken: "asked-without-a-place", expiresIn: 3600, scope: "s1" };
    });
    h.clock.advanceSeconds(0.001);
    answerFirst();
    await second;
    await first;

    // Every request CyberArk got for the set came while the set held a place in the table.
    expect(placeWhenAsked.every((until) => until !== undefined && until > h.clock.now())).toBe(
      true,
    );
  });
});
