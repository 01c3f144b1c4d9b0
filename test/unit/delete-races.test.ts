/**
 * DELETEs racing refreshes, pinned down step by step: two DELETEs in one millisecond, and a waiter
 * that takes a lease over after a DELETE dropped its set's place. (The seeded interleavings of many
 * instances, sets, DELETEs, renewals, 429s and clock jumps that an independent review ran over the
 * per-set items are held by the simulation, `test/sim`, which now runs the one-record store and
 * CyberArk's retries, and by the protocol's model check.)
 */
import { describe, expect, it } from "vitest";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { scopeSetOf, setTag } from "../../functions/core/scope-set.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ACCOUNT, caller } from "../support/fakes.js";
import { ciDelete, ciQuery, vendorHarness } from "../support/vendor-harness.js";

/** A profile whose callers may ask scope sets of `s0`..`s3`. */
function worldConfig() {
  return parseProfilesConfig({
    profiles: {
      app: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "cyberark/app",
        applicationId: "app_api",
        scope: "s0",
        scopes: ["s0", "s1", "s2", "s3"],
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/runner`],
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/admin`],
  });
}

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
      placeWhenAsked.push(h.store.record("app").sets.get(setTag(set))?.place?.until);
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
