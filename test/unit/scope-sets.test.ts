/**
 * Each scope set of a profile is its own cache entry (issue 25): its own memory slot, table item,
 * lease, flight and renewal; a back-off the tenant asks for holds for the whole profile; at most
 * MAX_LIVE_SCOPE_SETS live sets per profile; a grant broader than the ask is never served; and a
 * DELETE drops every set, including one it did not know of.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import type { TokenRequest } from "../../functions/core/ports.js";
import { MAX_LIVE_SETS as MAX_LIVE_SCOPE_SETS } from "../../functions/core/profile-record.js";
import { MAX_SLOTS_PER_PROFILE, ProfileSlots } from "../../functions/core/profile-slot.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
import { type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import {
  ADMIN_ROLE,
  caller,
  exampleConfig,
  FakeClock,
  FakeSecrets,
  itemKey,
} from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const PROFILE = "reports-app";
const READ = scopeSetOf(["ReadUserProfile"]); // the profile's default set
const WRITE = scopeSetOf(["ReadUserProfile", "WriteReports"]);
const SECRET = "cyberark/reports";
let h: VendorHarness;

/** The example configuration, its `reports-app` given the ceiling every ask below lies within. */
function scopedConfig(): ProfilesConfig {
  const example = exampleConfig();
  const reports = example.profiles.get(PROFILE);
  if (!reports) throw new Error("the example configuration has no reports-app");
  const extras = [1, 2, 3, 4, 5, 6, 7, 42, 99].map((n) => `Extra${n}`);
  const scopes = scopeSetOf(["ReadUserProfile", "WriteReports", ...extras]);
  const profiles = new Map(example.profiles).set(PROFILE, { ...reports, scopes });
  return { ...example, profiles };
}

beforeEach(() => {
  const harness = vendorHarness();
  h = {
    ...harness,
    newVendor: (config = scopedConfig(), metrics) => harness.newVendor(config, metrics),
  };
  // The tenant grants what was asked, unless a test says otherwise.
  h.identity.fallback = (request: TokenRequest) => {
    h.identity.serial += 1;
    return {
      accessToken: `token-${h.identity.serial}`,
      expiresIn: 3600,
      ...(request.scope === undefined ? {} : { scope: request.scope }),
    };
  };
});

/**
 * A GET of the profile. The n-th extra set is asked by role `caller-(n % 3)` (one caller holds
 * at most 3 of the 7 non-default places), any other set by role `any`; `role` overrides.
 */
function ask(scope?: ScopeSet, minValiditySeconds = 300, role?: string) {
  const n = /Extra(\d+)/.exec(scope ?? "")?.[1];
  const name = role ?? (n === undefined ? "any" : `caller-${Number(n) % 3}`);
  return {
    profile: PROFILE,
    caller: caller(`arn:aws:sts::444455556666:assumed-role/${name}/s`),
    minValiditySeconds,
    ...(scope === undefined ? {} : { scope }),
  };
}

const reportsDelete = () => ({ profile: PROFILE, caller: caller(ADMIN_ROLE) });

/** The n-th extra set: `ReadUserProfile` and one scope of its own. */
const extra = (n: number) => scopeSetOf(["ReadUserProfile", `Extra${n}`]);

describe("each scope set is its own cache entry", () => {
  it("two sets of one profile are refreshed independently, one CyberArk request each, under concurrency", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const release = [h.heldResponse("read-token"), h.heldResponse("write-token")];
    const callers = [a, b, a, b].flatMap((vendor) => [
      vendor.getToken(ask(READ)),
      vendor.getToken(ask(WRITE)),
      vendor.getToken(ask()),
    ]);
    await h.upstreamAsked(2);
    for (const answer of release) answer();
    const vended = await Promise.all(callers);

    expect(h.identity.requests.map((r) => r.scope).sort()).toEqual([READ, WRITE].sort());
    const [first] = h.identity.requests;
    const tokenOf = (set: ScopeSet) => (first?.scope === set ? "read-token" : "write-token");
    for (const v of vended) expect(v.token.accessToken).toBe(tokenOf(v.asked));
    expect(vended.filter((v) => v.asked === WRITE)).toHaveLength(4);
    expect(h.store.items.get(itemKey(PROFILE, WRITE))?.accessToken).toBe(tokenOf(WRITE));
    expect(h.store.items.get(itemKey(PROFILE, READ))?.accessToken).toBe(tokenOf(READ));
  });

  it("a token asked for one set is never served for another, from memory or the table", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const read = await a.getToken(ask(READ));
    const write = await a.getToken(ask(WRITE));
    const writeElsewhere = await b.getToken(ask(WRITE));

    expect(write.token.accessToken).not.toBe(read.token.accessToken);
    expect(writeElsewhere.token.accessToken).toBe(write.token.accessToken);
    expect(writeElsewhere.cache).toBe("table");
    expect(h.identity.requests).toHaveLength(2);
  });

  it("sends the set as scope, and no scope for the empty set", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ask(WRITE));
    await vendor.getToken({
      ...ask(),
      profile: "ci-deployer",
      caller: caller("arn:aws:sts::111122223333:assumed-role/ci-deployer/run"),
    });

    expect(h.identity.requests[0]?.scope).toBe("ReadUserProfile WriteReports");
    expect(h.identity.requests[1]).not.toHaveProperty("scope");
  });

  it("renews each set ahead of need on its own", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ask(READ));
    await vendor.getToken(ask(WRITE));
    h.clock.advanceSeconds(3600 - 300 - 900 + 1); // inside both renewal windows

    await vendor.getToken(ask(WRITE));
    await vendor.renewal(PROFILE, WRITE);

    expect(h.identity.requests.map((r) => r.scope)).toEqual([READ, WRITE, WRITE]);
    expect(vendor.renewal(PROFILE, READ)).toBeUndefined();
  });

  it("prewarm renews the default set only", async () => {
    const config = parseProfilesConfig({
      profiles: {
        deployer: {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: SECRET,
          applicationId: "deploy_api",
          scope: "read",
          scopes: ["read", "deploy"],
          allowedCallers: ["444455556666"],
          prewarm: true,
        },
      },
    });
    const vendor = h.newVendor(config);
    await vendor.getToken({ ...ask(scopeSetOf(["deploy"])), profile: "deployer" });
    h.identity.requests.length = 0;

    await vendor.renewScheduled();

    expect(h.identity.requests.map((request) => request.scope)).toEqual(["read"]);
  });
});

describe("never broader than asked", () => {
  it("refuses a grant naming a scope not asked: not served, not cached, logged with the extra scope only", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(() => ({
      accessToken: "too-broad-token",
      expiresIn: 3600,
      scope: "ReadUserProfile WriteReports Admin",
    }));

    const error = await vendor.getToken(ask(WRITE)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ code: "upstream_unavailable", kind: "unusable" });
    expect(h.store.items.get(itemKey(PROFILE, WRITE))).toBeUndefined();
    const line = h.logger.lines.find((l) => l.message.includes("not asked"));
    expect(line?.attributes).toMatchObject({ profile: PROFILE, asked: WRITE, notAsked: "Admin" });
    expect(JSON.stringify(h.logger.lines)).not.toContain("too-broad-token");
    // The next request asks again, and gets a token within the ask.
    expect((await vendor.getToken(ask(WRITE))).token.scope).toBe(WRITE);
  });

  it("serves a narrower grant, its scope saying what was granted", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(() => ({
      accessToken: "narrow",
      expiresIn: 3600,
      scope: "ReadUserProfile",
    }));

    const vended = await vendor.getToken(ask(WRITE));

    expect(vended).toMatchObject({ asked: WRITE, token: { accessToken: "narrow", scope: READ } });
    expect((await h.newVendor().getToken(ask(WRITE))).token.accessToken).toBe("narrow");
  });

  it("serves an answer without scope as before", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(() => ({ accessToken: "unscoped", expiresIn: 3600 }));

    const vended = await vendor.getToken(ask(WRITE));

    expect(vended.token.accessToken).toBe("unscoped");
    expect(vended.token).not.toHaveProperty("scope");
  });
});

describe("the bound on live scope sets", () => {
  it(`admits ${MAX_LIVE_SCOPE_SETS} live sets, refuses a new one with the time until the soonest frees, and keeps the default's place`, async () => {
    const vendor = h.newVendor();
    for (let n = 1; n < MAX_LIVE_SCOPE_SETS; n += 1) {
      await vendor.getToken(ask(extra(n)));
      h.clock.advanceSeconds(60);
    }
    const asked = h.identity.requests.length;

    const refused = await vendor.getToken(ask(extra(99))).catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(UpstreamUnavailableError);
    // The soonest place is the first set's: its token (3600 s) was stored 7 minutes ago.
    const retry = (refused as UpstreamUnavailableError).retryAfterSeconds;
    expect(retry).toBe(300); // capped: a place frees within 5 minutes or the caller asks again
    expect(h.identity.requests).toHaveLength(asked); // CyberArk was not asked
    expect(h.logger.lines.find((l) => l.message.includes("bound"))?.attributes).toMatchObject({
      profile: PROFILE,
      asked: extra(99),
    });
    // The default set always has its place.
    expect((await vendor.getToken(ask())).asked).toBe(READ);
    // Sets already live are served as ever.
    expect((await h.newVendor().getToken(ask(extra(1)))).cache).toBe("table");
  });

  it("tells the wait until the soonest place frees, and admits the new set once it has", async () => {
    const vendor = h.newVendor();
    h.identity.fallback = (request) => {
      h.identity.serial += 1;
      return {
        accessToken: `short-${h.identity.serial}`,
        expiresIn: 600,
        scope: request.scope ?? "",
      };
    };
    for (let n = 1; n < MAX_LIVE_SCOPE_SETS; n += 1) await vendor.getToken(ask(extra(n), 0));
    // A place lasts as long as its set's token (600 s here), no longer.
    h.clock.advanceSeconds(600 - 100);

    const refused = await vendor.getToken(ask(extra(99), 0)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "upstream_unavailable", retryAfterSeconds: 100 });
    expect((refused as UpstreamUnavailableError).description).toMatch(
      /the profile's scope sets are at their bound/i,
    );

    h.clock.advanceSeconds(100);
    expect((await vendor.getToken(ask(extra(99), 0))).asked).toBe(extra(99));
  });

  it("holds across instances: the places are in the table", async () => {
    for (let n = 1; n < MAX_LIVE_SCOPE_SETS; n += 1) await h.newVendor().getToken(ask(extra(n)));

    await expect(h.newVendor().getToken(ask(extra(99)))).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
  });

  it("counts a set whose request is in flight across a DELETE: its lease keeps its place", async () => {
    const [a, c] = [h.newVendor(), h.newVendor()];
    const set = extra(99);
    // A places the set, takes its lease and asks CyberArk; its answer comes later.
    const answer = h.heldResponse("in-flight");
    const first = a.getToken(ask(set)).catch((e: unknown) => e);
    await h.upstreamAsked(1);
    await c.invalidate(reportsDelete()); // drops every place and token, keeps the leases
    for (let n = 1; n < MAX_LIVE_SCOPE_SETS - 1; n += 1) await c.getToken(ask(extra(n)));
    const asked = h.identity.requests.length;

    // The seventh new set finds six places and A's lease: the profile is at its bound.
    const refused = await c.getToken(ask(extra(7))).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "upstream_unavailable" });
    expect((refused as UpstreamUnavailableError).description).toMatch(
      /the profile's scope sets are at their bound/i,
    );
    expect((refused as UpstreamUnavailableError).retryAfterSeconds).toBeGreaterThan(1);
    expect(h.identity.requests).toHaveLength(asked); // CyberArk not asked for it
    answer();
    // A's token was obtained under the epoch before the DELETE: refused by its write, revoked.
    expect(await first).toMatchObject({ code: "upstream_unavailable", retryAfterSeconds: 1 });
    expect(h.identity.revocations.map((r) => r.token)).toContain("in-flight");
  });

  it("holds in one instance while the table cannot be written", async () => {
    const vendor = h.newVendor();
    h.store.failing = true;
    for (let n = 1; n < MAX_LIVE_SCOPE_SETS; n += 1) await vendor.getToken(ask(extra(n)));

    await expect(vendor.getToken(ask(extra(99)))).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
    expect(h.identity.requests).toHaveLength(MAX_LIVE_SCOPE_SETS - 1);
  });

  it("gives one caller at most 3 of the 7 other places, says so on the 4th, and leaves room for others and the default", async () => {
    const vendor = h.newVendor();
    const mine = (n: number) => ask(extra(n), 300, "greedy");
    for (let n = 1; n <= 3; n += 1) await vendor.getToken(mine(n));
    const asked = h.identity.requests.length;

    const refused = await vendor.getToken(mine(4)).catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(UpstreamUnavailableError);
    expect(refused).toMatchObject({ code: "upstream_unavailable" });
    expect((refused as UpstreamUnavailableError).description).toMatch(
      /this caller's scope sets are at their bound/i,
    );
    const retry = (refused as UpstreamUnavailableError).retryAfterSeconds;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(300);
    expect(h.identity.requests).toHaveLength(asked); // CyberArk was not asked
    // Another session of the same role is the same caller.
    const sameRole = caller("arn:aws:sts::444455556666:assumed-role/greedy/other-session");
    await expect(vendor.getToken({ ...mine(5), caller: sameRole })).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
    // Another caller still gets a place, and the default set always has room.
    expect((await vendor.getToken(ask(extra(4), 300, "modest"))).asked).toBe(extra(4));
    expect((await vendor.getToken(ask(undefined, 300, "greedy"))).asked).toBe(READ);
  });

  it("keeps memory bounded however many sets are asked", () => {
    const slots = new ProfileSlots({ secrets: new FakeSecrets(), clock: new FakeClock() });
    const profile = exampleConfig().profiles.get(PROFILE);
    if (!profile) throw new Error("example profile missing");
    for (let n = 0; n < 10 * MAX_SLOTS_PER_PROFILE; n += 1) slots.of(profile, extra(n));

    expect(slots.slotsOf(profile).length).toBeLessThanOrEqual(MAX_SLOTS_PER_PROFILE);
  });
});

describe("rejections per set, back-offs per profile", () => {
  it("an invalid_scope for one set does not block another", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(() => {
      throw new UpstreamRejectedError({ status: 400, oauthError: "invalid_scope" });
    });
    await expect(vendor.getToken(ask(WRITE))).rejects.toMatchObject({ code: "upstream_rejected" });

    expect((await vendor.getToken(ask(READ))).asked).toBe(READ);
    // The refused set is remembered for a while: CyberArk is not asked again for it yet.
    await expect(vendor.getToken(ask(WRITE))).rejects.toMatchObject({ code: "upstream_rejected" });
    expect(h.identity.requests.map((r) => r.scope)).toEqual([WRITE, READ]);
  });

  it("an invalid_client, about the credentials every set shares, holds for every set", async () => {
    const vendor = h.newVendor();
    const refusal = () => {
      throw new UpstreamRejectedError({ status: 401, oauthError: "invalid_client" });
    };
    h.identity.next.push(refusal, refusal); // the first try and the rotation retry

    await expect(vendor.getToken(ask(WRITE))).rejects.toMatchObject({ code: "upstream_rejected" });
    await expect(vendor.getToken(ask(READ))).rejects.toMatchObject({ code: "upstream_rejected" });
    expect(h.identity.requests).toHaveLength(2);
  });

  it("a back-off the tenant asks for one set holds for the whole profile", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(() => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 429",
        retryAfterSeconds: 60,
        backOffSeconds: 60,
      });
    });
    await expect(vendor.getToken(ask(WRITE))).rejects.toMatchObject({
      code: "upstream_unavailable",
    });

    await expect(h.newVendor().getToken(ask(READ))).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 60,
    });
    expect(h.identity.requests).toHaveLength(1);
  });
});

describe("a DELETE drops every scope set", () => {
  it("drops every set's token from the table and memory, and revokes each", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const read = (await a.getToken(ask(READ))).token.accessToken;
    const write = (await b.getToken(ask(WRITE))).token.accessToken;
    await a.getToken(ask(WRITE)); // a holds both

    await a.invalidate(reportsDelete());

    expect(h.identity.revocations.map((r) => r.token).sort()).toEqual([read, write].sort());
    expect((await a.getToken(ask(READ))).token.accessToken).not.toBe(read);
    expect((await a.getToken(ask(WRITE))).token.accessToken).not.toBe(write);
    h.clock.advanceSeconds(31); // b's memory asks the table again
    expect((await b.getToken(ask(WRITE))).token.accessToken).not.toBe(write);
  });

  it("a set's token obtained with credentials read before the DELETE is refused by the table", async () => {
    const [a, b, c] = [h.newVendor(), h.newVendor(), h.newVendor()];
    const answer = h.heldResponse("old-secret-token");
    const racing = a.getToken(ask(WRITE)); // a set B never asked for, placed in the table
    await h.upstreamAsked(1);
    h.secrets.set(SECRET, { username: "svc-reports@example.com", password: "rotated" }, "v2");
    await b.invalidate(reportsDelete());
    answer();
    // Refused by its write (the DELETE moved the epoch): not served, and revoked.
    await expect(racing).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 1,
    });
    expect(h.identity.revocations.map((request) => request.token)).toContain("old-secret-token");

    expect(h.store.items.get(itemKey(PROFILE, WRITE))).toBeUndefined(); // refused outright
    const fromC = await c.getToken(ask(WRITE));
    expect(fromC.token.accessToken).not.toBe("old-secret-token");
    expect(h.identity.requests.at(-1)?.clientSecret).toBe("rotated");
  });

  it("a set nobody asked before, racing the DELETE, never has its token served after it, not even to its own caller", async () => {
    const [a, b, c] = [h.newVendor(), h.newVendor(), h.newVendor()];
    const fresh = extra(42);
    // A asks for a new set while the table cannot be written: it places the set itself, and its
    // exchange (with the old secret) is under way when the DELETE comes.
    h.store.failing = true;
    const answer = h.heldResponse("old-secret-token");
    const racing = a.getToken(ask(fresh));
    await h.upstreamAsked(1);
    h.store.failing = false;
    h.secrets.set(SECRET, { username: "svc-reports@example.com", password: "rotated" }, "v2");
    await b.invalidate(reportsDelete()); // B knows nothing of the set
    answer(); // A's token lands in the table after the DELETE
    // A, reading the table once more (its exchange failed open), finds the record in another life
    // than its credentials were read under: its own caller does not get the token, and it is
    // revoked ...
    await expect(racing).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(h.identity.revocations.map((request) => request.token)).toContain("old-secret-token");
    // ... and no read serves it: a lease that failed open writes nothing to the table.
    expect(h.store.items.get(itemKey(PROFILE, fresh))).toBeUndefined();
    expect(h.store.servable(PROFILE, fresh)).toBeUndefined();

    const fromC = await c.getToken(ask(fresh));
    expect(fromC.token.accessToken).not.toBe("old-secret-token");
    expect(h.identity.requests.at(-1)?.clientSecret).toBe("rotated");
    h.clock.advanceSeconds(31); // A's memory asks the table again
    await vi.waitFor(async () =>
      expect((await a.getToken(ask(fresh))).token.accessToken).not.toBe("old-secret-token"),
    );
  });
});
