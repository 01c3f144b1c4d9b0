/**
 * A token CyberArk answered that cannot be used (granted more scopes than asked, or without a
 * usable lifetime) is never served, and for a profile whose tokens can be revoked it is remembered
 * in the ledger and revoked at once: it works at CyberArk all the same, with a scope nobody asked
 * for. Fake clock, in-memory store and ledger.
 */
import { describe, expect, it } from "vitest";
import { TokenVendor } from "../../functions/core/vendor.js";
import { caller, exampleConfig } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";
import { vendorHarness } from "../support/vendor-harness.js";

const get = () => ({
  profile: "reports-app", // a custom OAuth2 app: its tokens can be revoked
  caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
  minValiditySeconds: 300,
});

function world() {
  const h = vendorHarness();
  const ledger = new MemoryIssuedTokens();
  const vendor = new TokenVendor({
    config: exampleConfig(),
    ...{ secrets: h.secrets, store: h.store, issued: ledger, identity: h.identity },
    ...{ clock: h.clock, logger: h.logger, random: () => 0.5 },
    sleep: async (ms) => h.clock.advanceSeconds(ms / 1000),
  });
  return { h, ledger, vendor };
}

describe("an answer from CyberArk that cannot be used", () => {
  it("revokes at once a token granted with more scopes than asked, and never serves it", async () => {
    const { h, ledger, vendor } = world();
    h.identity.next.push(() => ({
      accessToken: "broader",
      expiresIn: 3600,
      scope: "ReadUserProfile admin",
    }));
    await expect(vendor.getToken(get())).rejects.toThrow(/not asked: admin/);

    expect(h.identity.revocations.map((r) => r.token)).toEqual(["broader"]);
    expect(ledger.entries("reports-app").map((e) => e.token.accessToken)).toEqual(["broader"]);
  });

  it("revokes at once a token without a usable lifetime, and never serves it", async () => {
    const { h, vendor } = world();
    h.identity.next.push(() => ({ accessToken: "no-lifetime", expiresIn: "soon" }));
    await expect(vendor.getToken(get())).rejects.toThrow(/expires_in/);

    expect(h.identity.revocations.map((r) => r.token)).toEqual(["no-lifetime"]);
  });
});
