/**
 * When a token was obtained is one thing, how long CyberArk may honour it another, and each use
 * takes the bound that errs safe for it: serving counts a lifetime from when the request left
 * (errs short), the ledger from when the answer arrived (errs long), so a DELETE still revokes a
 * token CyberArk honours after it stopped being served (finding 3). And the one rule a DELETE
 * revokes by, with its reasons for every skip.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { revocable } from "../../functions/core/ledger.js";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ADMIN_ROLE, caller, exampleConfig, itemKey } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const PROFILE = "reports-app";
let h: VendorHarness;
let ledger: MemoryIssuedTokens;

function newVendor(): TokenVendor {
  return new TokenVendor({
    config: exampleConfig(),
    ...{ secrets: h.secrets, store: h.store, issued: ledger, identity: h.identity },
    ...{ clock: h.clock, logger: h.logger, random: () => 0.5 },
    sleep: async () => {},
  });
}

const get = (minValiditySeconds = 0) => ({
  profile: PROFILE,
  caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
  minValiditySeconds,
});
const del = () => ({ profile: PROFILE, caller: caller(ADMIN_ROLE) });

beforeEach(() => {
  h = vendorHarness();
  ledger = new MemoryIssuedTokens();
});

describe("the ledger counts a token's life from its answer's arrival", () => {
  it("keeps a slow answer's token until arrival + lifetime, while serving counts from the send", async () => {
    const vendor = newVendor();
    const sentAt = h.clock.now();
    const answer = h.heldResponse("SLOW", 60);
    const vended = vendor.getToken(get());
    await h.upstreamAsked(1);
    h.clock.advanceSeconds(20); // the answer takes 20 s to arrive
    const arrivedAt = h.clock.now();
    answer();

    expect((await vended).token.expiresAt).toBe(sentAt + 60_000);
    expect(ledger.entries(PROFILE).map((entry) => entry.expiresAt)).toEqual([arrivedAt + 60_000]);
  });

  it("has a DELETE revoke a token past its serving expiry that CyberArk still honours", async () => {
    const vendor = newVendor();
    const answer = h.heldResponse("SLOW", 60);
    const vended = vendor.getToken(get());
    await h.upstreamAsked(1);
    h.clock.advanceSeconds(20);
    answer();
    await vended;
    h.clock.advanceSeconds(50); // 70 s after the send: expired for serving, 10 s left at CyberArk
    // Only the ledger knows it now: the next write of the record prunes the expired token, and
    // the DELETE comes from another instance, which never held it.
    h.store.items.delete(itemKey(PROFILE, scopeSetOf(["ReadUserProfile"])));

    const outcome = await newVendor().invalidate(del());

    expect(h.identity.revocations.map((r) => r.token)).toEqual(["SLOW"]);
    expect(outcome).toMatchObject({ revoked: "true", revokedCount: 1 });
  });
});

describe("what a DELETE revokes: revocable()", () => {
  const deleted = { incarnation: "life-1", epoch: 4 };
  const now = 1_000;

  it("revokes a live entry of the epochs the DELETE ended", () => {
    expect(revocable({ incarnation: "life-1", epoch: 4, expiresAt: now + 1 }, deleted, now)).toBe(
      true,
    );
    expect(revocable({ incarnation: "life-1", epoch: 0, expiresAt: now + 1 }, deleted, now)).toBe(
      true,
    );
  });

  it("revokes a live entry of another life of the item, whatever its epoch", () => {
    const entry = { incarnation: "life-0", epoch: 9, expiresAt: now + 1 };
    expect(revocable(entry, deleted, now)).toBe(true);
  });

  it("skips a token of the next epoch (not its business) and an expired one, saying why", () => {
    const newer = { incarnation: "life-1", epoch: 5, expiresAt: now + 1 };
    expect(revocable(newer, deleted, now)).toBe("newer-epoch");
    const expired = { incarnation: "life-1", epoch: 3, expiresAt: now };
    expect(revocable(expired, deleted, now)).toBe("expired");
  });
});
