import { describe, expect, it } from "vitest";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
import { FakeClock, MemoryStore } from "../support/fakes.js";
import { describeProfileStoreContract } from "../support/profile-store-contract.js";

// The unit tests' store keeps the same rule as the DynamoDB adapter: one suite for both.
describeProfileStoreContract("the in-memory fake", async () => new MemoryStore());

const KEEP_S = (MAX_BACK_OFF_MS + LEASE_MS) / 1000; // how long the item outlives a DELETE

describe("the in-memory fake's ttl, as the DynamoDB store's", () => {
  it("a write soon after a DELETE keeps the item for the DELETE's keep, and no longer", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore(clock);
    const deleted = await store.delete("p", clock.now());
    // A write of a record with nothing live in it (a lease released), right after the DELETE.
    const read = await store.read("p");
    expect(await store.write("p", read, read.record)).toBe(true);
    clock.advanceSeconds(KEEP_S - 1);
    expect(store.record("p").incarnation).toBe(deleted.incarnation);
    clock.advanceSeconds(2);
    expect(store.record("p").incarnation).toBeUndefined();
  });
});
