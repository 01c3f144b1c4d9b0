/**
 * Scripted reproductions of the interleavings the seeded simulation found, one per race, each
 * named after the promise it broke. They drive several vendor instances over one table and one
 * tenant with a fake clock, holding CyberArk's answers and the table's calls where the race needs it.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { UpstreamRejectedError, UpstreamUnavailableError } from "../../functions/core/errors.js";
import type { ProfileStore } from "../../functions/core/ports.js";
import { pruned, takeLease } from "../../functions/core/profile-record.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { NO_SCOPES, scopeSetOf, setTag } from "../../functions/core/scope-set.js";
import {
  CREDENTIALS_MAX_AGE_MS,
  LEASE_MS,
  MAX_UNCONFIRMED_MS,
  MEMORY_RECHECK_MS,
  UNCONFIRMED_RETRY_MS,
  WORST_AWS_CALL_MS,
  WORST_EXCHANGE_MS,
  WORST_REQUEST_MS,
  WORST_TABLE_CALL_MS,
} from "../../functions/core/timing.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ACCOUNT, ADMIN_ROLE, CI_ROLE, caller, exampleConfig, itemKey } from "../support/fakes.js";
import {
  ciDelete,
  ciQuery,
  prewarmConfig,
  type VendorHarness,
  vendorHarness,
} from "../support/vendor-harness.js";

const PROFILE = "ci-deployer";
const SECRET = "cyberark/ci-deployer";
let h: VendorHarness;

beforeEach(() => {
  h = vendorHarness();
});

function rotateSecret(): void {
  h.secrets.set(SECRET, { client_id: "svc-ci@example.com", client_secret: "rotated" }, "v2");
}

/** Runs `action` once, at the first table read at or after `at` (epoch ms), before that read. */
function beforeTableReadAt(at: number, action: () => unknown): void {
  const read = h.store.read.bind(h.store);
  let done = false;
  h.store.read = async (profile) => {
    if (!done && h.clock.now() >= at) {
      done = true;
      await action();
    }
    return read(profile);
  };
}

function grantLifetime(seconds: number): void {
  h.identity.fallback = () => {
    h.identity.serial += 1;
    return { accessToken: `token-${h.identity.serial}`, expiresIn: seconds };
  };
}

describe("race 1: a rotation plus a DELETE never leaves a token of the old identity", () => {
  it("a renewal on an instance still holding the old token re-reads the secret when the table disagrees", async () => {
    grantLifetime(600); // renewal window: 300 s + a quarter of 600 s
    const [a, b] = [h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // token-1, old secret
    h.clock.advanceSeconds(140);
    await a.getToken(ciQuery()); // the table confirms token-1 to A
    rotateSecret();
    await b.invalidate(ciDelete());
    const fresh = await b.getToken(ciQuery()); // token-2, rotated secret
    h.clock.advanceSeconds(15);

    await a.getToken(ciQuery()); // served from A's memory, and due for renewal
    await a.renewal(PROFILE);

    expect(h.identity.requests.slice(1).map((request) => request.clientSecret)).not.toContain(
      "s3cret",
    );
    expect(h.store.items.get(PROFILE)?.cacheKey).toBe(fresh.token.cacheKey);
  });

  it("an empty table after a DELETE makes an instance read the secret again before asking CyberArk", async () => {
    const shared = { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: SECRET };
    const config = parseProfilesConfig({
      profiles: {
        first: { ...shared, allowedCallers: [ACCOUNT] },
        second: { ...shared, allowedCallers: [ACCOUNT] },
      },
      adminCallers: [ACCOUNT],
    });
    const [a, b] = [h.newVendor(config), h.newVendor(config)];
    const ci = (profile: string) => ({ profile, caller: caller(CI_ROLE), minValiditySeconds: 0 });
    await a.getToken(ci("first")); // A now holds the old secret in memory
    rotateSecret();
    await b.invalidate({ profile: "second", caller: caller(ADMIN_ROLE) });
    h.clock.advanceSeconds(10);

    await a.getToken(ci("second"));

    expect(h.identity.requests.at(-1)?.clientSecret).toBe("rotated");
  });
});

describe("race 1b: a token asked for with credentials read before a DELETE never outlives it", () => {
  // A and C read the old secret before it is rotated; B handles the DELETE. A's exchange, sent
  // with the old secret before the DELETE, lands after it (a slow answer, or a freeze).
  async function oldSecretExchangeLandingAfterDelete(beforeItLands?: () => Promise<unknown>) {
    grantLifetime(200);
    const [a, b, c] = [h.newVendor(), h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // token-1, old secret
    await c.getToken(ciQuery()); // C holds the old secret too
    h.clock.advanceSeconds(120);
    rotateSecret();
    const land = h.heldResponse("asked-with-old-secret");
    const fromA = a.getToken(ciQuery()); // token-1 is too short: A asks, with the old secret
    await h.upstreamAsked(2);
    h.clock.advanceSeconds(1);
    await b.invalidate(ciDelete());
    h.clock.advanceSeconds(1);
    await beforeItLands?.();
    land();
    const served = await fromA.then(
      (vended) => vended.token.accessToken,
      () => undefined,
    );
    return { b, c, served };
  }

  it("does not land in the table the DELETE emptied, nor reach A's caller", async () => {
    const { c, served } = await oldSecretExchangeLandingAfterDelete();
    expect(served).toBeUndefined(); // answered after the DELETE: never served (deletion-race.ts)
    h.clock.advanceSeconds(MEMORY_RECHECK_MS / 1000 + 5);

    const fromC = await c.getToken(ciQuery());

    expect(fromC.token.accessToken).not.toBe("asked-with-old-secret");
    expect(h.identity.requests.at(-1)?.clientSecret).toBe("rotated");
  });

  it("does not replace a token of the new secret written after the DELETE", async () => {
    const { c } = await oldSecretExchangeLandingAfterDelete(async () => {
      h.clock.advanceSeconds(LEASE_MS / 1000); // A is frozen past its lease
      const d = h.newVendor();
      await d.getToken(ciQuery()); // reads the new secret: a token of the new identity
    });
    h.clock.advanceSeconds(MEMORY_RECHECK_MS / 1000 + 5);

    const fromC = await c.getToken(ciQuery());

    expect(fromC.token.accessToken).not.toBe("asked-with-old-secret");
    expect(h.store.items.get(PROFILE)?.accessToken).toBe(fromC.token.accessToken);
  });
});

describe("race 1c: a DELETE costs a waiting instance one secret read, not one per poll", () => {
  it("a waiter that finds the record in a new epoch reads the secret once, however many polls", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.clock.advanceSeconds(MEMORY_RECHECK_MS / 1000); // memory asks the table again
    await h.store.delete(PROFILE, h.clock.now()); // a DELETE elsewhere: the next epoch
    h.store.leases.set(PROFILE, { owner: "elsewhere", until: h.clock.now() + LEASE_MS });
    const readsBefore = h.secrets.reads.length;

    await expect(vendor.getToken(ciQuery())).rejects.toMatchObject({
      code: "upstream_unavailable",
    });

    expect(h.secrets.reads.length - readsBefore).toBe(1);
  });

  it("a DELETE adds no secret read the timing budget does not count", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.clock.advanceSeconds(CREDENTIALS_MAX_AGE_MS / 1000); // credentials and memory both stale
    await h.store.delete(PROFILE, h.clock.now());
    const readsBefore = h.secrets.reads.length;

    await vendor.getToken(ciQuery());

    // The budget counts one secret read before the lease and one for the rotation retry.
    expect(h.secrets.reads.length - readsBefore).toBeLessThanOrEqual(2);
  });
});

describe("race 2: one CyberArk request at a time per profile, with a healthy table", () => {
  it("a holder whose exchange takes its worst time, rotation retry included, keeps the lease to the end", async () => {
    const vendor = h.newVendor();
    let leaseFreeDuringRetry: boolean | undefined;
    h.identity.next.push(() => {
      h.clock.advanceSeconds(WORST_EXCHANGE_MS / 1000);
      throw new UpstreamRejectedError({ status: 401, oauthError: "invalid_client" });
    });
    h.identity.next.push(async () => {
      h.clock.advanceSeconds((WORST_AWS_CALL_MS + WORST_EXCHANGE_MS) / 1000);
      const now = h.clock.now();
      const ask = { tag: setTag(NO_SCOPES), defaultTag: setTag(NO_SCOPES), owner: "another" };
      const record = pruned(h.store.record(PROFILE), now);
      const decision = takeLease(record, { ...ask, caller: "c", now, until: now + LEASE_MS });
      leaseFreeDuringRetry = decision.kind === "take";
      return { accessToken: "after-rotation", expiresIn: 3600 };
    });

    await vendor.getToken(ciQuery());

    expect(leaseFreeDuringRetry).toBe(false);
  });

  it("a renewal thawed after its lease expired does not release the lease a newer request holds", async () => {
    grantLifetime(600);
    const [a, b, c] = [h.newVendor(), h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // token-1 at t = 0
    h.clock.advanceSeconds(160);
    const failRenewal = h.heldFailure(
      new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      }),
    );
    await a.getToken(ciQuery()); // due: A's renewal takes the lease, then A freezes
    await h.upstreamAsked(2);
    // At t = 320 s the frozen renewal's lease ended long ago, and token-1 (280 s left) is too
    // short for the default min_validity: B's request takes the lease and asks.
    h.clock.advanceSeconds(160);
    expect(LEASE_MS).toBeLessThan(160_000);
    const releaseRequest = h.heldResponse("newer-request");
    const request = b.getToken(ciQuery());
    await h.upstreamAsked(3);
    const held = h.store.leases.get(PROFILE);

    failRenewal(); // A's renewal thaws, fails, and gives back "its" lease
    await a.renewal(PROFILE);
    expect(h.store.leases.get(PROFILE)).toEqual(held); // B's lease is intact
    const readsBefore = h.store.gets;
    const fromC = c.getToken(ciQuery());
    await vi.waitFor(() => expect(h.store.gets).toBeGreaterThanOrEqual(readsBefore + 2));

    expect(h.identity.requests).toHaveLength(3); // C waits for B's request instead of asking too
    releaseRequest();
    await Promise.all([request, fromC]);
  });
});

describe("race 3: the instance that handled a DELETE never serves the dropped token again", () => {
  it("a GET that reads the table while the DELETE is still deleting cannot put the token back", async () => {
    const vendor = h.newVendor();
    const dropped = (await vendor.getToken(ciQuery())).token.accessToken;
    const deleting = h.store.holdNextDelete();
    const invalidated = vendor.invalidate(ciDelete());
    await vendor.getToken(ciQuery()); // concurrent with the DELETE: reads the item still there
    deleting.release();
    await invalidated;

    const after = await vendor.getToken(ciQuery());

    expect(after.token.accessToken).not.toBe(dropped);
  });
});

describe("race 4: a failed recheck is not a confirmation", () => {
  it("a token deleted elsewhere stops being served once the table answers again", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const dropped = (await a.getToken(ciQuery())).token.accessToken;
    await b.invalidate(ciDelete());
    h.store.failing = true;
    h.clock.advanceSeconds(MEMORY_RECHECK_MS / 1000);
    expect((await a.getToken(ciQuery())).token.accessToken).toBe(dropped); // table unreadable
    h.store.failing = false;
    h.clock.advanceSeconds(UNCONFIRMED_RETRY_MS / 1000);

    const after = await a.getToken(ciQuery());

    expect(after.token.accessToken).not.toBe(dropped);
  });

  it("a token the table has not confirmed for the longest unconfirmed time is not served from memory while CyberArk answers", async () => {
    const vendor = h.newVendor();
    const held = (await vendor.getToken(ciQuery())).token.accessToken;
    h.store.failing = true;
    for (let t = MEMORY_RECHECK_MS; t < MAX_UNCONFIRMED_MS; t += UNCONFIRMED_RETRY_MS) {
      h.clock.advanceSeconds(UNCONFIRMED_RETRY_MS / 1000);
      await vendor.getToken(ciQuery());
    }
    h.clock.advanceSeconds(MAX_UNCONFIRMED_MS / 1000);

    const after = await vendor.getToken(ciQuery());

    expect(after).toMatchObject({ cache: "upstream" });
    expect(after.token.accessToken).not.toBe(held);
  });
});

describe("race 5: a tenant that shortens lifetimes causes no renewal storm", () => {
  it("a token issued later replaces the stored one even when it expires sooner", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // token-1, 3600 s
    grantLifetime(600);
    h.clock.advanceSeconds(3600 - 300 - 900 + 1);

    await a.getToken(ciQuery()); // due: renews to a 600 s token
    await a.renewal(PROFILE);
    await b.getToken(ciQuery());
    await b.renewal(PROFILE);

    expect(h.store.items.get(PROFILE)?.accessToken).toBe("token-2");
    expect(h.identity.requests).toHaveLength(2);
  });
});

describe("race 6: a cached token that meets min_validity is served, not a 503", () => {
  // Within the bound on unconfirmed tokens: a held token the table has not confirmed for
  // MAX_UNCONFIRMED_MS is not served (race 4), even when CyberArk fails.
  const outage = () =>
    new UpstreamUnavailableError({
      dependency: "identity",
      kind: "failed",
      detail: "CyberArk answered 503",
      retryAfterSeconds: 5,
    });

  it("a caller that joined a flight started for a larger min_validity gets the token it can use", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery()); // token-1, 3600 s
    h.clock.advanceSeconds(2000); // 1600 s left: too short for 1800 s, fine for 300 s
    const fail = h.heldFailure(outage());
    const demanding = vendor.getToken(ciQuery(3600)).catch((error: unknown) => error);
    await h.upstreamAsked(2);

    const modest = vendor.getToken(ciQuery(300));
    fail();

    expect(await demanding).toBeInstanceOf(UpstreamUnavailableError);
    expect((await modest).token.accessToken).toBe("token-1");
  });

  it("a held token survives a request that found the table and CyberArk both failing", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.clock.advanceSeconds(2000);
    await vendor.getToken(ciQuery()); // the table confirms the held token
    h.store.failing = true;
    h.identity.fallback = () => {
      throw outage();
    };
    await expect(vendor.getToken(ciQuery(3600))).rejects.toBeInstanceOf(UpstreamUnavailableError);

    const modest = await vendor.getToken(ciQuery(300));

    expect(modest.token.accessToken).toBe("token-1");
  });

  it("a held token is still recognised after the credentials are read again, unchanged", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.clock.advanceSeconds(290);
    await vendor.getToken(ciQuery()); // the table confirms the held token
    h.clock.advanceSeconds(11); // the credentials in memory are re-read after 5 minutes
    h.store.failing = true;
    h.identity.fallback = () => {
      throw outage();
    };

    const result = await vendor.getToken(ciQuery());

    expect(result.token.accessToken).toBe("token-1");
  });
});

describe("the fallback on a held token, bounded", () => {
  it("does not serve a token the table has not confirmed for the longest unconfirmed time, even when CyberArk fails", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.store.failing = true;
    h.identity.fallback = () => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    };
    h.clock.advanceSeconds(MAX_UNCONFIRMED_MS / 1000);

    await expect(vendor.getToken(ciQuery())).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });

  it("does not fall back on a held token when CyberArk refuses the credentials themselves", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.clock.advanceSeconds(2000); // 1600 s left: too short for 3600 (capped 1800), fine for 300
    h.identity.fallback = () => {
      throw new UpstreamRejectedError({ status: 400, oauthError: "invalid_client" });
    };

    // The modest caller joins the demanding caller's flight, which CyberArk refuses outright.
    const demanding = vendor.getToken(ciQuery(3600)).catch((error: unknown) => error);
    const modest = vendor.getToken(ciQuery(300)).catch((error: unknown) => error);

    expect(await demanding).toBeInstanceOf(UpstreamRejectedError);
    expect(await modest).toBeInstanceOf(UpstreamRejectedError);
  });
});

describe("race 7: a fresh token is checked like any other", () => {
  it("a token that expired during a slow exchange is never returned", async () => {
    h.identity.next.push(() => {
      h.clock.advanceSeconds(5);
      return { accessToken: "stale-on-arrival", expiresIn: 3 };
    });

    const result = h.newVendor().getToken(ciQuery(0));

    await expect(result).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });
});

describe("a request answers within its worst-case time, fallback included", () => {
  it("does not read the table for a fallback that would end after the request's worst case", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // a token in the table, which B cannot read at first
    h.store.failing = true;
    h.identity.next.push(() => {
      h.store.failing = false; // the table recovers, but the request's time is nearly spent
      h.clock.advanceSeconds((WORST_REQUEST_MS - WORST_TABLE_CALL_MS) / 1000 + 1);
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    });

    await expect(b.getToken(ciQuery())).rejects.toMatchObject({ code: "upstream_unavailable" });
  });

  it("still falls back on the table's token when there is time for the read", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const stored = await a.getToken(ciQuery());
    h.store.failing = true;
    h.identity.next.push(() => {
      h.store.failing = false;
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    });

    const fallback = await b.getToken(ciQuery());

    expect(fallback.token.accessToken).toBe(stored.token.accessToken);
  });
});

describe("race 8: a DELETE the table did not take is a 503, not a crash", () => {
  it("answers upstream_unavailable with a Retry-After when the table cannot delete", async () => {
    const vendor = h.newVendor();
    await vendor.getToken(ciQuery());
    h.store.failing = true;

    await expect(vendor.invalidate(ciDelete())).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: expect.any(Number),
    });
  });
});

describe("DELETE revokes what it deleted", () => {
  it("revokes the token the table held when the delete landed, and the one this instance held", async () => {
    const a = h.newVendor();
    const reports = {
      profile: "reports-app",
      caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
      minValiditySeconds: 300,
    };
    const heldByA = (await a.getToken(reports)).token.accessToken;
    // Another instance puts a newer token in the table, which A has not read.
    h.clock.advanceSeconds(60);
    const reportsItem = itemKey("reports-app", scopeSetOf(["ReadUserProfile"]));
    const stored = h.store.items.get(reportsItem);
    if (!stored) throw new Error("the table should hold A's token");
    h.store.items.set(reportsItem, { ...stored, accessToken: "newer", issuedAt: h.clock.now() });

    const revoked = await a.invalidate({ profile: "reports-app", caller: caller(ADMIN_ROLE) });

    expect(revoked.revoked).toBe("true");
    expect(h.identity.revocations.map((r) => r.token).sort()).toEqual([heldByA, "newer"].sort());
  });
});

describe("race 9: a superseded token is never served after the table showed another", () => {
  it("an instance whose recheck finds another token of the same identity, expired, drops its own", async () => {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const dropped = (await b.getToken(ciQuery(0))).token.accessToken; // B holds token-1
    await a.invalidate(ciDelete()); // token-1 leaves the table (and is revoked where possible)
    h.clock.advanceSeconds(1);
    h.identity.next.push(() => ({ accessToken: "short-lived", expiresIn: 20 }));
    await a.getToken(ciQuery(0)); // A stores a token of the same identity, which then expires
    h.identity.fallback = () => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    };
    h.clock.advanceSeconds(34); // B's recheck is due; the table answers
    expect(h.store.items.get(PROFILE)?.accessToken).toBe("short-lived");

    const fromB = b.getToken(ciQuery(0));

    await expect(fromB).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(dropped).toBe("token-1");
  });
});

describe("race 10: a back-off recorded in the table holds for every instance, frozen or not", () => {
  const throttled = () =>
    new UpstreamUnavailableError({
      dependency: "identity",
      kind: "failed",
      detail: "CyberArk answered 429",
      retryAfterSeconds: 120,
      backOffSeconds: 120,
    });

  // A's lease write fails once, so A refreshes without a lease; A is then frozen while its guard
  // read of the record is in flight. Meanwhile B takes the real lease and is told to back off.
  async function failedOpenRefreshFrozenInGuardRead() {
    const [a, b] = [h.newVendor(), h.newVendor()];
    const write = h.store.write.bind(h.store);
    const read = h.store.read.bind(h.store);
    let failWrite = true;
    let freezeRead = false;
    h.store.write = async (...args) => {
      if (!failWrite) return write(...args);
      failWrite = false;
      freezeRead = true; // A's next read is its guard's
      const error = new Error("simulated outage");
      error.name = "ProvisionedThroughputExceededException";
      throw error;
    };
    let thaw: (() => void) | undefined;
    h.store.read = async (profile) => {
      const answer = await read(profile);
      if (!freezeRead) return answer;
      freezeRead = false;
      await new Promise<void>((resolve) => (thaw = resolve)); // answered before the freeze
      return answer;
    };
    const fromA = a.getToken(ciQuery()).catch((error: unknown) => error);
    await vi.waitFor(() => expect(thaw).toBeDefined());
    h.identity.next.push(() => {
      throw throttled();
    });
    await expect(b.getToken(ciQuery())).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(h.store.record(PROFILE).backOffUntil).toBeGreaterThan(h.clock.now());
    return { fromA, thaw: () => thaw?.() };
  }

  it("a refresh that failed open ends when the lease it replaced would have", async () => {
    const { fromA, thaw } = await failedOpenRefreshFrozenInGuardRead();
    h.clock.advanceSeconds(60); // thawed long after its lease would have ended

    thaw();

    expect(await fromA).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.identity.requests).toHaveLength(1); // B's, which was told to back off
  });

  it("a guard read that a freeze made old is read again before CyberArk is asked", async () => {
    const { fromA, thaw } = await failedOpenRefreshFrozenInGuardRead();
    h.clock.advanceSeconds(8); // thawed with enough of its would-be lease left for an exchange
    expect(LEASE_MS - 8_000).toBeGreaterThan(WORST_EXCHANGE_MS);

    thaw();

    expect(await fromA).toMatchObject({ code: "upstream_unavailable" });
    expect(h.identity.requests).toHaveLength(1);
  });
});

describe("race 10b: the rotation retry honours a back-off recorded during the first attempt", () => {
  it("checks the record's back-off again, in the guard, before the retry", async () => {
    const vendor = h.newVendor();
    h.identity.next.push(async () => {
      // Meanwhile an instance whose lease failed open was told to back off, and recorded it.
      const until = h.clock.now() + 60_000;
      h.store.change(PROFILE, (record) => ({ ...record, backOffUntil: until }));
      throw new UpstreamRejectedError({ status: 401, oauthError: "invalid_client" });
    });

    const result = vendor.getToken(ciQuery());

    await expect(result).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(h.identity.requests).toHaveLength(1);
  });
});

describe("race 11: a request answers within its worst case, second flight included", () => {
  it("a caller whose joined flight brought a token too short for it does not outwait the function", async () => {
    const [w, v] = [h.newVendor(), h.newVendor()];
    const stored = (await w.getToken(ciQuery(0))).token; // 3600 s
    h.clock.advanceSeconds(2600); // 1000 s left: enough for 0, too short for 3600 (capped 1800)
    h.store.items.delete(PROFILE);
    h.store.leases.set(PROFILE, { owner: "stuck", until: h.clock.now() + LEASE_MS });
    const started = h.clock.now();
    const modest = v.getToken(ciQuery(0)); // starts a flight, which waits for the lease holder
    let endedAt: number | undefined;
    const demanding = v
      .getToken(ciQuery(3600)) // joins it
      .catch((error: unknown) => error)
      .finally(() => (endedAt = h.clock.now()));
    // 15 s into the wait, the holder's answer: the flight ends with it.
    beforeTableReadAt(started + 15_000, () => h.store.items.set(PROFILE, stored));

    await modest;
    await demanding;

    expect(endedAt).toBeDefined();
    expect((endedAt ?? 0) - started).toBeLessThanOrEqual(WORST_REQUEST_MS);
  });
});

describe("race 12: a rotation during a lease wait never hides the new identity's token", () => {
  it("a waiter that sees a token of another identity reads the secret again, once", async () => {
    const [c, d] = [h.newVendor(), h.newVendor()];
    h.store.leases.set(PROFILE, { owner: "stuck", until: h.clock.now() + LEASE_MS });
    let fresh: string | undefined;
    let readsBefore = 0;
    let joined: Promise<unknown> | undefined;
    // 3 s into C's wait, past its takeover window: a rotation, and D stores a token of the new
    // identity; then a GET joins C's wait.
    beforeTableReadAt(h.clock.now() + 3_000, async () => {
      rotateSecret();
      h.store.leases.delete(PROFILE); // the holder gave up
      fresh = (await d.getToken(ciQuery())).token.accessToken;
      readsBefore = h.secrets.reads.length;
      joined = c.getToken(ciQuery()).then(
        (vended) => vended.token.accessToken,
        (error: unknown) => error,
      );
    });

    const fromC = await c.getToken(ciQuery()); // reads the secret, then waits for the holder

    expect(fresh).toBeDefined();
    expect(fromC.token.accessToken).toBe(fresh);
    expect(await joined).toBe(fresh);
    expect(h.secrets.reads.length - readsBefore).toBe(1);
  });
});

/** A call held until `release()`, as a Lambda freeze holds a call that was being sent. */
function frozenCall() {
  let release: () => void = () => {};
  const thawed = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { thawed, release: () => release(), started: false };
}

/** One instance whose table calls go through `overrides` first, over the shared table. */
function instanceOver(overrides: Partial<ProfileStore>, config = exampleConfig()): TokenVendor {
  const s = h.store;
  const store: ProfileStore = {
    read: (p) => s.read(p),
    write: (p, read, next) => s.write(p, read, next),
    delete: (p, now) => s.delete(p, now),
    fresh: (p, tag, token, stamp) => s.fresh(p, tag, token, stamp),
    ...overrides,
  };
  const sleep = async (ms: number) => h.clock.advanceSeconds(ms / 1000);
  const { secrets, identity, clock, logger } = h;
  return new TokenVendor({
    config,
    secrets,
    store,
    identity,
    clock,
    logger,
    sleep,
    random: () => 0.5,
  });
}

/** Whether `next` writes a token of `tag` that the record read did not hold (a token's write). */
function writesToken(
  read: { record: { sets: ReadonlyMap<string, { token?: unknown }> } },
  next: typeof read.record,
  tag = setTag(NO_SCOPES),
): boolean {
  const token = next.sets.get(tag)?.token;
  return token !== undefined && token !== read.record.sets.get(tag)?.token;
}

/** CyberArk answers each request only when the test lets it, counting requests in flight. */
function heldAnswers(lifetimeSeconds: number) {
  const answers: (() => void)[] = [];
  const counts = { inFlight: 0, most: 0 };
  h.identity.fallback = async () => {
    counts.inFlight += 1;
    counts.most = Math.max(counts.most, counts.inFlight);
    h.identity.serial += 1;
    const accessToken = `token-${h.identity.serial}`;
    await new Promise<void>((resolve) => answers.push(resolve));
    counts.inFlight -= 1;
    return { accessToken, expiresIn: lifetimeSeconds };
  };
  const answerAll = async () => {
    while (answers.length > 0) {
      for (const answer of answers.splice(0)) answer();
      await settle();
    }
  };
  return { counts, answerAll };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

const healthyTable = () => h.logger.lines.filter((line) => line.level === "warn");

describe("race 13: a token write thawed after a freeze never lands over a DELETE made during it", () => {
  it("a renewal's write held 15 s by a freeze is refused by the DELETE recorded meanwhile", async () => {
    grantLifetime(600);
    const put = frozenCall();
    let freezeNextPut = false;
    const a = instanceOver({
      write: async (p, read, next) => {
        if (freezeNextPut && writesToken(read, next)) {
          freezeNextPut = false;
          put.started = true;
          await put.thawed; // A froze while its token's PutItem was being sent
        }
        return h.store.write(p, read, next);
      },
    });
    const [b, c] = [h.newVendor(), h.newVendor()];
    await a.getToken(ciQuery()); // token-1, old secret
    await c.getToken(ciQuery()); // C holds the old secret for 5 minutes
    h.clock.advanceSeconds(160);
    freezeNextPut = true;
    await a.getToken(ciQuery()); // from memory; A renews ahead: token-2, old secret
    await vi.waitFor(() => expect(put.started).toBe(true));

    h.clock.advanceSeconds(10); // A frozen, token-2's write on its way
    rotateSecret();
    await b.invalidate(ciDelete()); // the admin's DELETE after the rotation
    h.clock.advanceSeconds(5);
    put.release(); // A thaws; its write lands
    await a.renewal(PROFILE);

    // The table was healthy: the only warnings say token-2 raced the DELETE and was not kept.
    expect(healthyTable().map((line) => line.message)).toEqual([
      "token obtained while a DELETE of the profile ran; not served (the profile's tokens cannot be revoked)",
      "background renewal failed; the current token is served while valid",
    ]);
    expect(h.store.items.get(PROFILE)?.accessToken).not.toBe("token-2");
    h.clock.advanceSeconds(35); // past any recheck after the DELETE
    const fromC = await c.getToken(ciQuery());
    const asked = Number(fromC.token.accessToken.replace("token-", "")) - 1;
    expect(h.identity.requests[asked]?.clientSecret).toBe("rotated");
  });
});

describe("race 14: a lease taken with a call a freeze held up is not used", () => {
  it("a thawed acquisition that overwrote a live lease asks CyberArk neither during nor after the holder's request", async () => {
    grantLifetime(600);
    const acquire = frozenCall();
    let freezeNextAcquire = false;
    const a = instanceOver({
      write: async (p, read, next) => {
        if (freezeNextAcquire) {
          freezeNextAcquire = false;
          acquire.started = true;
          await acquire.thawed; // A froze while its lease write was being sent
        }
        return h.store.write(p, read, next);
      },
    });
    const b = h.newVendor();
    await a.getToken(ciQuery()); // token-1 in the table and in A's memory
    h.clock.advanceSeconds(160); // due for renewal ahead
    freezeNextAcquire = true;
    await a.getToken(ciQuery()); // from memory; A's renewal ahead sends its lease write, and A freezes
    await vi.waitFor(() => expect(acquire.started).toBe(true));
    h.clock.advanceSeconds(8);

    const upstream = heldAnswers(600);
    await b.getToken(ciQuery()); // B renews ahead: takes the free lease and asks CyberArk
    await h.upstreamAsked(2);
    acquire.release(); // A thaws: its lease write lands with the times of before the freeze
    await settle();
    const sentWhileBAsked = h.identity.requests.length;
    await upstream.answerAll();
    await Promise.all([a.renewal(PROFILE), b.renewal(PROFILE)]);

    expect(healthyTable()).toEqual([]);
    expect(sentWhileBAsked).toBe(2);
    expect(upstream.counts.most).toBe(1);
    expect(h.identity.requests).toHaveLength(2);
  });
});

describe("race 15: one instance asks CyberArk once at a time per profile, renewals included", () => {
  it("a request whose lease write failed waits for the scheduled renewal's exchange, then reads the table", async () => {
    let acquires = 0;
    const a = instanceOver(
      {
        // Every lease write after the renewal's fails (a token's write goes through).
        write: async (p, read, next) => {
          acquires += p === PROFILE && !writesToken(read, next) ? 1 : 0;
          if (p === PROFILE && acquires >= 2 && !writesToken(read, next)) {
            throw Object.assign(new Error("throttled"), { name: "ThrottlingException" });
          }
          return h.store.write(p, read, next);
        },
      },
      prewarmConfig(),
    );
    const upstream = heldAnswers(3600);

    const renewal = a.renewScheduled(); // takes the lease, asks CyberArk
    await h.upstreamAsked(1);
    const request = a.getToken(ciQuery()); // the table is empty; its lease write fails: fails open
    await settle();
    await upstream.answerAll();
    await renewal;

    expect(upstream.counts.most).toBe(1);
    expect((await request).token.accessToken).toBe("token-1");
    expect(h.identity.requests).toHaveLength(1);
  });
});
