/**
 * Review attacks on issue 25's DELETE: a token CyberArk answers while a DELETE runs, the bound of
 * the ledger under a DELETE, and logs of every step (never a token or a secret).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { LEASE_MS, WORST_REVOCATION_MS } from "../../functions/core/timing.js";
import { tokenFingerprint } from "../../functions/core/token.js";
import { exampleConfig } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";
import {
  reportsQuery as reports,
  reportsDelete,
  type VendorHarness,
  vendorHarness,
} from "../support/vendor-harness.js";

let h: VendorHarness;
let ledger: MemoryIssuedTokens;

const newVendor = () => h.newVendor(exampleConfig(), undefined, ledger);

beforeEach(() => {
  h = vendorHarness();
  ledger = new MemoryIssuedTokens();
});

describe("attack: a token CyberArk answers while a DELETE runs", () => {
  it("is either not served, or revoked: a DELETE never leaves a token it raced with alive and in a caller's hands unrevoked", async () => {
    const vendor = newVendor();
    const release = h.heldResponse("raced-token", 3600);
    const pending = vendor.getToken(reports());
    await h.upstreamAsked(1);

    await vendor.invalidate(reportsDelete());
    release();
    const served = await pending.then(
      (vended) => vended.token.accessToken,
      () => undefined,
    );

    const revoked = h.identity.revocations.map((request) => request.token);
    if (served === "raced-token") {
      // Served after the DELETE answered 204: the contract's "revokes every token the service
      // obtained that has not yet expired" then needs it revoked, or at least remembered for the
      // next DELETE.
      const remembered = ledger.entries("reports-app").map((entry) => entry.token.accessToken);
      expect(remembered).toContain("raced-token");
      expect(revoked).toContain("raced-token");
    }
  });

  it("a second DELETE revokes the raced token (the ledger kept it)", async () => {
    const vendor = newVendor();
    const release = h.heldResponse("raced-token", 3600);
    const pending = vendor.getToken(reports());
    await h.upstreamAsked(1);
    await vendor.invalidate(reportsDelete());
    release();
    await pending.catch(() => undefined);

    await vendor.invalidate(reportsDelete());

    expect(h.identity.revocations.map((request) => request.token)).toContain("raced-token");
  });
});

describe("a token CyberArk answers while a DELETE runs is revoked at once and not served", () => {
  const revoked = () => h.identity.revocations.map((request) => request.token);
  const warned = (token: string) =>
    h.logger.lines.filter((line) => line.attributes.tokenSha256 === tokenFingerprint(token));

  it("on the instance that handled the DELETE: its caller gets 503 with a short Retry-After, the token is revoked and logged by its fingerprint only", async () => {
    const vendor = newVendor();
    const release = h.heldResponse("raced-token", 3600);
    const pending = vendor.getToken(reports());
    await h.upstreamAsked(1);

    await vendor.invalidate(reportsDelete());
    release();

    await expect(pending).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 1,
    });
    expect(revoked()).toEqual(["raced-token"]);
    expect(warned("raced-token").map((line) => line.message)).toEqual([
      "token obtained while a DELETE of the profile ran; revoked, not served",
    ]);
    expect(JSON.stringify(h.logger.lines)).not.toContain("raced-token");
    // The next request asks again, with credentials read after the DELETE.
    h.identity.next.push(() => ({ accessToken: "after-delete", expiresIn: 3600 }));
    expect((await vendor.getToken(reports())).token.accessToken).toBe("after-delete");
  });

  it("on another instance: the write refused by the DELETE's record is not served, and revoked", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const release = h.heldResponse("raced-token", 3600);
    const pending = a.getToken(reports());
    await h.upstreamAsked(1);

    await b.invalidate(reportsDelete()); // B's DELETE reads the ledger before A remembers it
    release();

    await expect(pending).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(revoked()).toEqual(["raced-token"]);
    // Nor does the table serve it: the next request asks again.
    h.identity.next.push(() => ({ accessToken: "after-delete", expiresIn: 3600 }));
    expect((await b.getToken(reports())).token.accessToken).toBe("after-delete");
  });

  it("a revocation that fails twice leaves the token unserved and in the ledger, and the next DELETE revokes it", async () => {
    const vendor = newVendor();
    const release = h.heldResponse("raced-token", 3600);
    const pending = vendor.getToken(reports());
    await h.upstreamAsked(1);
    await vendor.invalidate(reportsDelete());
    const refuse = () => {
      throw new Error("tenant unreachable");
    };
    h.identity.nextRevocations.push(refuse, refuse);
    release();
    await expect(pending).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(
      h.logger.lines.filter((line) => /token revocation failed/.test(line.message)),
    ).toHaveLength(2);
    expect(ledger.entries("reports-app").map((entry) => entry.token.accessToken)).toEqual([
      "raced-token",
    ]);

    await vendor.invalidate(reportsDelete());

    expect(revoked().filter((token) => token === "raced-token")).toHaveLength(3);
    expect(ledger.entries("reports-app")).toEqual([]);
  });

  it("waits for the revocation only while the lease leaves room for its worst: a late answer is refused at once, the revocation going on", async () => {
    const vendor = newVendor();
    const release = h.heldResponse("raced-token", 3600);
    const pending = vendor.getToken(reports());
    await h.upstreamAsked(1);
    await vendor.invalidate(reportsDelete());
    h.identity.nextRevocations.push(() => new Promise<void>(() => {})); // the tenant never answers
    h.clock.advanceSeconds((LEASE_MS - WORST_REVOCATION_MS) / 1000); // the exchange was slow
    release();

    await expect(pending).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(revoked()).toEqual(["raced-token"]); // asked, not waited for
  });

  it("a write refused because a fresher token of the same identity is stored is no DELETE: its token is served, not revoked", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const release = h.heldResponse("slow-token", 3600);
    const pending = a.getToken(reports()); // A asks and is held (a freeze) past its lease
    await h.upstreamAsked(1);
    h.clock.advanceSeconds(LEASE_MS / 1000 + 1);
    h.identity.next.push(() => ({ accessToken: "fresher-token", expiresIn: 3600 }));
    expect((await b.getToken(reports())).token.accessToken).toBe("fresher-token");

    release(); // A's write is refused: B's token was issued later

    expect((await pending).token.accessToken).toBe("slow-token");
    expect(revoked()).toEqual([]);
    expect(h.logger.lines.filter((line) => /DELETE/.test(line.message))).toEqual([]);
  });
});

describe("attack: the ledger's bound under many renewals", () => {
  it("a DELETE revokes every live token up to the bound, each exactly once, with one audit fingerprint each", async () => {
    ledger = new MemoryIssuedTokens(50);
    const vendor = newVendor();
    const vended: string[] = [];
    for (let i = 0; i < 60; i += 1) {
      h.identity.next.push(() => ({ accessToken: `tok-${i}`, expiresIn: 36_000 }));
      vended.push((await vendor.getToken(reports())).token.accessToken);
      await vendor.invalidate(reportsDelete()).catch(() => undefined);
    }
    // Each DELETE revoked everything: nothing piles up, nothing revoked twice.
    const revoked = h.identity.revocations.map((request) => request.token);
    expect(new Set(revoked).size).toBe(revoked.length);
    expect([...revoked].sort()).toEqual([...vended].sort());
    expect(ledger.entries("reports-app")).toEqual([]);
  });

  it("past the bound, a token is served but said to be unrevocable (warned with its fingerprint only)", async () => {
    ledger = new MemoryIssuedTokens(1);
    const vendor = newVendor();
    h.identity.next.push(
      () => ({ accessToken: "x-token", expiresIn: 3600 }),
      () => ({ accessToken: "y-token", expiresIn: 3600 }),
    );
    await vendor.getToken(reports());
    h.clock.advanceSeconds(1801);
    const second = await vendor.getToken(reports(1800));

    expect(second.token.accessToken).toBe("y-token");
    const warnings = h.logger.lines.filter((line) => /full/.test(line.message));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(h.logger.lines)).not.toMatch(/[xy]-token/);
    expect(JSON.stringify(warnings)).toContain(tokenFingerprint("y-token"));
  });
});

describe("attack: logs of a DELETE", () => {
  it("never carry a remembered token, a client secret or the whole event", async () => {
    const vendor = newVendor();
    h.identity.next.push(() => ({ accessToken: "eyJ-live-one", expiresIn: 3600 }));
    await vendor.getToken(reports());
    h.identity.nextRevocations.push(() => {
      throw new Error("revocation said eyJ-live-one is bad");
    });
    await vendor.invalidate(reportsDelete());
    const text = JSON.stringify(h.logger.lines);
    expect(text).not.toContain("eyJ-live-one");
    expect(text).not.toContain("pw");
    expect(text).not.toContain("s3cret");
  });
});
