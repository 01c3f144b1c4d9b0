/**
 * A DELETE that races refreshes on other instances revokes exactly the tokens of the epochs it
 * ended: a token obtained under the new epoch is never its business (it stays servable and is
 * served), and a token obtained under the old one is either dropped and revoked by the DELETE,
 * or refused by its own write and revoked by its writer, never served. Deterministic: fake clock,
 * a ledger whose DELETE read is held, CyberArk answers released by hand.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { scopeSetOf, setTag } from "../../functions/core/scope-set.js";
import { LEASE_MS } from "../../functions/core/timing.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ADMIN_ROLE, caller, exampleConfig } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const PROFILE = "reports-app"; // a custom OAuth2 app: its tokens can be revoked
const DEFAULT_SET = scopeSetOf(["ReadUserProfile"]); // the profile's default scope
let h: VendorHarness;
let ledger: MemoryIssuedTokens;

function newVendor(): TokenVendor {
  return new TokenVendor({
    config: exampleConfig(),
    ...{ secrets: h.secrets, store: h.store, issued: ledger, identity: h.identity },
    ...{ clock: h.clock, logger: h.logger, random: () => 0.5 },
    sleep: async (ms) => {
      h.clock.advanceSeconds(ms / 1000);
      await new Promise((resolve) => setTimeout(resolve, 1));
    },
  });
}

const get = () => ({
  profile: PROFILE,
  caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
  minValiditySeconds: 300,
});
const del = () => ({ profile: PROFILE, caller: caller(ADMIN_ROLE) });
const revoked = () => h.identity.revocations.map((r) => r.token);
const epoch = () => h.store.record(PROFILE).epoch;
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

beforeEach(() => {
  h = vendorHarness();
  ledger = new MemoryIssuedTokens();
});

describe("a DELETE and a refresh under the new epoch (finding 1)", () => {
  it("does not revoke a token obtained under the new epoch while the DELETE read the ledger, and the table serves it", async () => {
    const [a, b, c] = [newVendor(), newVendor(), newVendor()];
    h.identity.next.push(() => ({ accessToken: "T1", expiresIn: 3600 }));
    expect((await b.getToken(get())).token.accessToken).toBe("T1");
    // A's DELETE writes the next epoch, then its read of the ledger is slow (KMS).
    const slowLedger = ledger.holdNextLive();
    const deleting = a.invalidate(del());
    await settle();
    expect(epoch()).toBe(1);
    // Meanwhile C reads the new epoch and obtains T2, remembered and written under it.
    h.identity.next.push(() => ({ accessToken: "T2", expiresIn: 3600 }));
    expect((await c.getToken(get())).token.accessToken).toBe("T2");
    expect(ledger.entries(PROFILE).map((e) => [e.token.accessToken, e.epoch])).toEqual([
      ["T1", 0],
      ["T2", 1],
    ]);

    slowLedger.release();
    const outcome = await deleting;

    expect(revoked()).toEqual(["T1"]);
    expect(outcome).toMatchObject({ revoked: "true", revokedCount: 1, skipped: "newer-epoch=1" });
    // T2 is live and not revoked: the table serves it, to a new instance and to C.
    expect(h.store.servable(PROFILE, DEFAULT_SET)).toMatchObject({ accessToken: "T2" });
    expect(await newVendor().getToken(get())).toMatchObject({
      cache: "table",
      token: { accessToken: "T2" },
    });
    h.clock.advanceSeconds(31); // C's memory asks the table again: T2 is still the one
    expect((await c.getToken(get())).token.accessToken).toBe("T2");
    expect(h.identity.requests).toHaveLength(2);
  });

  it("revokes a token of the old epoch remembered before the DELETE's ledger read, and never serves it", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const answer = h.heldResponse("OLD", 3600);
    const refreshing = b.getToken(get()).catch((e: unknown) => e);
    await h.upstreamAsked(1);
    await a.invalidate(del()); // before B's answer: B's lease stays, its token is epoch 0
    answer();

    expect(await refreshing).toMatchObject({ code: "upstream_unavailable", retryAfterSeconds: 1 });
    expect(revoked()).toContain("OLD");
    expect(h.store.items.get(PROFILE)).toBeUndefined();
    // The lease B held is given back: the next request asks at once.
    expect((await b.getToken(get())).token.accessToken).not.toBe("OLD");
  });
});

describe("a holder frozen mid-exchange across a DELETE (finding 4)", () => {
  it("has its token refused by its write and revoked after it thaws, never stored or served", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const answer = h.heldResponse("FROZEN", 3600);
    const frozen = a.getToken(get()).catch((e: unknown) => e);
    await h.upstreamAsked(1);
    // A is frozen: its lease and the set's place end, a DELETE comes, time goes on.
    h.clock.advanceSeconds(LEASE_MS / 1000 + 60);
    await b.invalidate(del());
    h.clock.advanceSeconds(600);
    answer(); // A thaws with CyberArk's answer

    expect(await frozen).toMatchObject({ code: "upstream_unavailable" });
    expect(revoked()).toContain("FROZEN");
    expect(h.store.items.get(PROFILE)).toBeUndefined();
    const served = await newVendor().getToken(get());
    expect(served.token.accessToken).not.toBe("FROZEN");
  });

  it("keeps the place of a set whose request is in flight: its lease counts as live across a DELETE", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const answer = h.heldResponse("IN-FLIGHT", 3600);
    const inFlight = a.getToken(get()).catch((e: unknown) => e);
    await h.upstreamAsked(1);
    await b.invalidate(del());

    const tag = setTag(DEFAULT_SET);
    const entry = h.store.record(PROFILE).sets.get(tag);
    expect(entry?.lease?.until).toBeGreaterThan(h.clock.now());
    expect(entry?.place).toBeUndefined(); // the DELETE dropped the place, not the lease
    answer();
    await inFlight;
  });
});
