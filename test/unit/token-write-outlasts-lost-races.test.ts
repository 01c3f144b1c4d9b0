/**
 * Lost races on the profile's one item are normal when many scope sets share it: a token write
 * that loses to other sets' writes reads again and decides again for as long as its lease
 * allows (not a fixed few rounds), so the token is written and the lease released; a write that
 * still cannot land gives the lease back, so nobody waits for work that has ended.
 */
import { describe, expect, it } from "vitest";
import { itemKey } from "../support/fakes.js";
import { ciQuery, vendorHarness } from "../support/vendor-harness.js";

function racedWorld(lostRaces: number) {
  const h = vendorHarness();
  let steal = 0;
  const write = h.store.write.bind(h.store);
  // Another set's write lands just before each of the next `steal` token writes: they lose.
  h.store.write = async (profile, read, next) => {
    const tokenWrite = [...next.sets.values()].some((entry) => entry.token);
    if (steal > 0 && tokenWrite) {
      steal -= 1;
      h.store.change(profile, (record) => record);
    }
    return write(profile, read, next);
  };
  h.identity.next.push(() => {
    steal = lostRaces; // from the token's write on
    return { accessToken: "raced-token", expiresIn: 3600 };
  });
  return h;
}

describe("a token write on an item many sets write to", () => {
  it("writes the token and frees the lease after more lost races than a fixed few", async () => {
    const h = racedWorld(6);
    const vendor = h.newVendor();
    expect((await vendor.getToken(ciQuery())).token.accessToken).toBe("raced-token");

    expect(h.store.items.get(itemKey("ci-deployer"))?.accessToken).toBe("raced-token");
    expect(h.store.leases.get(itemKey("ci-deployer"))).toBeUndefined();
    expect(h.logger.lines.map((l) => l.message)).not.toContain(
      "token table write failed; token served from memory only",
    );
  });

  it("gives the lease back when the token still cannot be written", async () => {
    const h = racedWorld(1_000);
    const vendor = h.newVendor();
    expect((await vendor.getToken(ciQuery())).token.accessToken).toBe("raced-token");

    const lease = h.store.leases.get(itemKey("ci-deployer"));
    expect(lease === undefined || lease.until <= h.clock.now()).toBe(true);
  });
});
