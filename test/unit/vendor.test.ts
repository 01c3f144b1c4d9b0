import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  AccessDeniedError,
  ConfigurationError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from "../../functions/core/errors.js";
import {
  CREDENTIALS_MAX_AGE_MS,
  LEASE_MS,
  LEASE_TAKEOVER_MS,
  MEMORY_RECHECK_MS,
  REJECTION_MEMORY_MS,
} from "../../functions/core/timing.js";
import type { TokenVendor } from "../../functions/core/vendor.js";
import {
  ADMIN_ROLE,
  CI_ROLE,
  caller,
  type FakeClock,
  type FakeIdentity,
  type FakeSecrets,
  type MemoryLogger,
  type MemoryStore,
  STRANGER,
} from "../support/fakes.js";
import { ciQuery, type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

let h: VendorHarness;
let clock: FakeClock;
let secrets: FakeSecrets;
let store: MemoryStore;
let identity: FakeIdentity;
let logger: MemoryLogger;

const newVendor = (): TokenVendor => h.newVendor();
const heldResponse = (accessToken: string) => h.heldResponse(accessToken);
const upstreamAsked = (count: number) => h.upstreamAsked(count);
const ci = ciQuery;

async function rejectionOf(promise: Promise<unknown>): Promise<AccessDeniedError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof AccessDeniedError)) throw new Error("expected an AccessDeniedError");
  return error;
}

beforeEach(() => {
  h = vendorHarness();
  ({ clock, secrets, store, identity, logger } = h);
});

describe("TokenVendor.getToken: cache levels", () => {
  it("asks CyberArk on a cold miss and stores the token in the table", async () => {
    // Prepare
    const vendor = newVendor();
    // Act
    const result = await vendor.getToken(ci());
    // Assess
    expect(result).toMatchObject({ cache: "upstream", token: { accessToken: "token-1" } });
    expect(identity.requests).toEqual([
      {
        endpoint: "https://abc1234.id.cyberark.cloud/oauth2/platformtoken",
        clientAuth: "body",
        clientId: "svc-ci@example.com",
        clientSecret: "s3cret",
      },
    ]);
    expect(store.items.get("ci-deployer")?.accessToken).toBe("token-1");
  });

  it("serves a warm hit from memory with no I/O at all", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    const before = { gets: store.gets, reads: secrets.reads.length };

    const result = await vendor.getToken(ci());

    expect(result).toMatchObject({ cache: "memory", token: { accessToken: "token-1" } });
    expect({ gets: store.gets, reads: secrets.reads.length }).toEqual(before);
    expect(identity.requests).toHaveLength(1);
  });

  it("serves another instance's token from the table without asking CyberArk", async () => {
    await newVendor().getToken(ci());

    const result = await newVendor().getToken(ci());

    expect(result).toMatchObject({ cache: "table", token: { accessToken: "token-1" } });
    expect(identity.requests).toHaveLength(1);
  });

  it("gets a new token when the cached one would not stay valid for min_validity", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    clock.advanceSeconds(3600 - 299);

    const result = await vendor.getToken(ci(300));

    expect(result).toMatchObject({ cache: "upstream", token: { accessToken: "token-2" } });
  });

  it("still serves the cached token to a caller asking for less min_validity", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    clock.advanceSeconds(3600 - 299);

    expect((await vendor.getToken(ci(60))).token.accessToken).toBe("token-1");
  });

  it("never serves an expired token from the table", async () => {
    await newVendor().getToken(ci(0));
    clock.advanceSeconds(3600);

    const result = await newVendor().getToken(ci(0));

    expect(result).toMatchObject({ cache: "upstream", token: { accessToken: "token-2" } });
  });

  it("caps min_validity at half the granted lifetime, so short tokens are reused", async () => {
    identity.fallback = () => ({
      accessToken: `short-${identity.requests.length}`,
      expiresIn: 120,
    });
    const vendor = newVendor();
    await vendor.getToken(ci(300));
    clock.advanceSeconds(59);

    expect((await vendor.getToken(ci(300))).token.accessToken).toBe("short-1");
    clock.advanceSeconds(2);
    expect((await vendor.getToken(ci(300))).token.accessToken).toBe("short-2");
  });

  it("shares one CyberArk request among concurrent misses in an instance", async () => {
    const release = heldResponse("shared");
    const vendor = newVendor();

    const pending = Array.from({ length: 25 }, () => vendor.getToken(ci()));
    await upstreamAsked(1);
    release();
    const results = await Promise.all(pending);

    expect(identity.requests).toHaveLength(1);
    expect(new Set(results.map((r) => r.token.accessToken))).toEqual(new Set(["shared"]));
  });
});

describe("TokenVendor.getToken: authorization", () => {
  it("denies a caller the profile does not allow", async () => {
    await expect(newVendor().getToken({ ...ci(), caller: caller(STRANGER) })).rejects.toThrow(
      new AccessDeniedError('caller is not allowed for profile "ci-deployer"'),
    );
    expect(identity.requests).toHaveLength(0);
  });

  it("answers an unknown profile exactly like a denied one, the log telling them apart", async () => {
    const denied = await rejectionOf(newVendor().getToken({ ...ci(), caller: caller(STRANGER) }));
    const unknown = await rejectionOf(newVendor().getToken({ ...ci(), profile: "nope" }));

    expect([denied.constructor, denied.code, denied.description]).toEqual([
      unknown.constructor,
      unknown.code,
      unknown.description,
    ]);
    expect(unknown.message).toBe('profile "nope" does not exist');
  });

  it("denies a request without a caller identity", async () => {
    await expect(newVendor().getToken({ ...ci(), caller: undefined })).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
  });
});

describe("TokenVendor.getToken: credentials and rotation", () => {
  it("fails only the profile whose secret is malformed", async () => {
    secrets.set("cyberark/ci-deployer", { client_id: "x" });
    const vendor = newVendor();

    await expect(vendor.getToken(ci())).rejects.toBeInstanceOf(ConfigurationError);
    const reports = await vendor.getToken({
      profile: "reports-app",
      caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
      minValiditySeconds: 300,
    });

    expect(reports.cache).toBe("upstream");
    expect(identity.requests[0]).toMatchObject({
      endpoint: "https://abc1234.id.cyberark.cloud/oauth2/token/reports_api",
      clientAuth: "basic",
      clientId: "svc-reports@example.com",
      scope: "ReadUserProfile",
    });
  });

  it("on invalid_client reads the secret again, bypassing the cache, and retries once", async () => {
    identity.fallback = () => ({
      accessToken: `short-${identity.requests.length}`,
      expiresIn: 120,
    });
    const vendor = newVendor();
    await vendor.getToken(ci(0));
    // Rotated in Secrets Manager while this instance still holds the old value in memory.
    secrets.set(
      "cyberark/ci-deployer",
      { client_id: "svc-ci@example.com", client_secret: "rotated" },
      "v2",
    );
    identity.next.push(() => {
      throw new UpstreamRejectedError({ status: 400, oauthError: "invalid_client" });
    });
    clock.advanceSeconds(120);

    const result = await vendor.getToken(ci(0));

    expect(result.cache).toBe("upstream");
    expect(identity.requests.map((r) => r.clientSecret)).toEqual(["s3cret", "s3cret", "rotated"]);
  });

  it("gives up after one rotation retry and reports the rejection", async () => {
    identity.fallback = () => {
      throw new UpstreamRejectedError({ status: 401 });
    };

    await expect(newVendor().getToken(ci())).rejects.toBeInstanceOf(UpstreamRejectedError);
    expect(identity.requests).toHaveLength(2);
    expect(secrets.reads).toHaveLength(2);
  });

  it("never serves a token of the old identity once a rotated secret is read", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    secrets.set(
      "cyberark/ci-deployer",
      { client_id: "svc-new@example.com", client_secret: "n" },
      "v2",
    );
    clock.advanceSeconds(CREDENTIALS_MAX_AGE_MS / 1000);

    const result = await vendor.getToken(ci());

    expect(result).toMatchObject({ cache: "upstream", token: { accessToken: "token-2" } });
    expect(identity.requests.at(-1)?.clientId).toBe("svc-new@example.com");
  });
});

describe("TokenVendor.getToken: upstream and table failures", () => {
  it("remembers a rejection for a few seconds instead of hammering the tenant", async () => {
    identity.fallback = () => {
      throw new UpstreamRejectedError({ status: 400, oauthError: "invalid_scope" });
    };
    const vendor = newVendor();
    await expect(vendor.getToken(ci())).rejects.toBeInstanceOf(UpstreamRejectedError);
    await expect(vendor.getToken(ci())).rejects.toBeInstanceOf(UpstreamRejectedError);
    expect(identity.requests).toHaveLength(1);

    clock.advanceSeconds(REJECTION_MEMORY_MS / 1000);
    await expect(vendor.getToken(ci())).rejects.toBeInstanceOf(UpstreamRejectedError);
    expect(identity.requests).toHaveLength(2);
  });

  it("passes an upstream outage on as 503 when nothing usable is cached", async () => {
    identity.next.push(() => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 7,
      });
    });
    await expect(newVendor().getToken(ci())).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 7,
    });
  });

  it("keeps vending from CyberArk when the table fails, and says so in the log", async () => {
    store.failing = true;
    const vendor = newVendor();

    const first = await vendor.getToken(ci());
    const second = await vendor.getToken(ci());

    expect([first.cache, second.cache]).toEqual(["upstream", "memory"]);
    // The read, the lease that fails open, the guard's read before the attempt, the read after
    // the answer (to learn of a DELETE meanwhile), and the token kept out of the table (the
    // back-off and the lease live in the record now: no separate back-off read or lease release).
    expect(logger.lines.map((line) => line.message)).toEqual([
      "token table read failed; treating as a miss",
      "refresh lease unavailable; refreshing without it",
      "token table read failed; treating as a miss",
      "token table read failed; treating as a miss",
      "token table write failed; token served from memory only",
    ]);
    expect(logger.lines[0]?.attributes).toEqual({
      profile: "ci-deployer",
      reason: "ProvisionedThroughputExceededException",
    });
  });
});

describe("TokenVendor.getToken: the table unreadable at a memory recheck", () => {
  it("keeps serving the token it holds, without asking CyberArk, and rechecks later", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    store.failing = true;
    identity.fallback = () => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    };
    clock.advanceSeconds(MEMORY_RECHECK_MS / 1000);
    const readsBefore = store.gets;

    const during = await vendor.getToken(ci());
    const next = await vendor.getToken(ci());

    expect([during, next]).toMatchObject([
      { cache: "memory", token: { accessToken: "token-1" } },
      { cache: "memory", token: { accessToken: "token-1" } },
    ]);
    expect(identity.requests).toHaveLength(1);
    expect(store.gets - readsBefore).toBe(1); // one recheck, not one per request
  });
});

describe("TokenVendor.invalidate (DELETE)", () => {
  const del = (arn = ADMIN_ROLE) => ({ profile: "ci-deployer", caller: caller(arn) });

  it("is for admin callers only", async () => {
    await expect(newVendor().invalidate(del(CI_ROLE))).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it("drops the table item and this instance never serves the old token again", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());

    await vendor.invalidate(del());
    expect(store.items.has("ci-deployer")).toBe(false);
    const after = await vendor.getToken(ci());

    expect(after).toMatchObject({ cache: "upstream", token: { accessToken: "token-2" } });
  });

  it("re-reads the secret after a DELETE, so a rotated credential is used at once", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    secrets.set(
      "cyberark/ci-deployer",
      { client_id: "svc-ci@example.com", client_secret: "rotated" },
      "v2",
    );

    await vendor.invalidate(del());
    await vendor.getToken(ci());

    expect(identity.requests.at(-1)?.clientSecret).toBe("rotated");
  });

  it("reaches another warm instance within 30 seconds", async () => {
    const warm = newVendor();
    await warm.getToken(ci());
    await newVendor().invalidate(del());

    clock.advanceSeconds(MEMORY_RECHECK_MS / 1000 - 1);
    expect((await warm.getToken(ci())).token.accessToken).toBe("token-1");
    clock.advanceSeconds(1);
    expect(await warm.getToken(ci())).toMatchObject({
      cache: "upstream",
      token: { accessToken: "token-2" },
    });
  });

  it("does not let a request in flight during the DELETE repopulate the caches", async () => {
    const release = heldResponse("old");
    const vendor = newVendor();
    const inFlight = vendor.getToken(ci());
    await upstreamAsked(1);

    await vendor.invalidate(del());
    release();
    // Answered after the DELETE: its write is refused by the new epoch, so it is revoked and not
    // served; the caller is told to retry.
    await expect(inFlight).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 1,
    });

    expect(store.items.has("ci-deployer")).toBe(false);
    expect((await vendor.getToken(ci())).token.accessToken).toBe("token-1");
  });
});

describe("TokenVendor: one upstream request across instances (refresh lease)", () => {
  it("lets only the lease holder ask CyberArk; another instance waits and is served from the table", async () => {
    const release = heldResponse("shared");
    const [a, b] = [newVendor(), newVendor()];

    const fromA = a.getToken(ci());
    await upstreamAsked(1);
    const readsBeforeB = store.gets;
    const fromB = b.getToken(ci());
    // B reads the table, finds the lease taken, and polls at least once while A is still asking.
    await vi.waitFor(() => expect(store.gets).toBeGreaterThanOrEqual(readsBeforeB + 2));
    release();
    const results = await Promise.all([fromA, fromB]);

    expect(identity.requests).toHaveLength(1);
    expect(results.map((r) => [r.cache, r.token.accessToken])).toEqual([
      ["upstream", "shared"],
      ["table", "shared"],
    ]);
    expect(store.leases.size).toBe(0);
  });

  it("takes over a lease whose holder died, once it expires", async () => {
    store.leases.set("ci-deployer", {
      owner: "crashed-instance",
      until: clock.now() + LEASE_TAKEOVER_MS / 2,
    });

    const result = await newVendor().getToken(ci());

    expect(result.cache).toBe("upstream");
    expect(identity.requests).toHaveLength(1);
  });

  it("takes over only early in its wait, so its own exchange still fits the function timeout", async () => {
    store.leases.set("ci-deployer", {
      owner: "crashed-instance",
      until: clock.now() + LEASE_TAKEOVER_MS + 1_000,
    });

    await expect(newVendor().getToken(ci())).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
    expect(identity.requests).toHaveLength(0);
    // The next request, arriving after the lease expired, takes it over at once.
    await expect(newVendor().getToken(ci())).resolves.toMatchObject({ cache: "upstream" });
  });

  it("answers 503 with Retry-After, without asking CyberArk, when the holder never finishes", async () => {
    // Taken just now, as long as any lease lasts (a longer one would be an edit, and taken over).
    store.leases.set("ci-deployer", { owner: "slow-instance", until: clock.now() + LEASE_MS });

    await expect(newVendor().getToken(ci())).rejects.toMatchObject({
      code: "upstream_unavailable",
      retryAfterSeconds: 2,
    });
    expect(identity.requests).toHaveLength(0);
  });
});

describe("TokenVendor: refresh ahead", () => {
  it("serves the current token at once and renews it in the background", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci()); // token-1, 3600 s
    clock.advanceSeconds(3600 - 300 - 900 + 1); // inside the window: 300 s + a quarter of 3600 s

    const during = await vendor.getToken(ci());
    await vendor.renewal("ci-deployer");
    const after = await vendor.getToken(ci());

    expect(during.token.accessToken).toBe("token-1"); // at once, without waiting for CyberArk
    expect(identity.requests).toHaveLength(2);
    expect(after).toMatchObject({ cache: "memory", token: { accessToken: "token-2" } });
    expect(store.items.get("ci-deployer")?.accessToken).toBe("token-2");
  });

  it("does not renew before the window", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    clock.advanceSeconds(3600 - 300 - 900 - 1);

    await vendor.getToken(ci());

    expect(vendor.renewal("ci-deployer")).toBeUndefined();
    expect(identity.requests).toHaveLength(1);
  });

  it("keeps serving the valid token while CyberArk fails, and does not retry at once", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    clock.advanceSeconds(3000);
    identity.fallback = () => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "CyberArk answered 503",
        retryAfterSeconds: 5,
      });
    };

    const first = await vendor.getToken(ci());
    await vendor.renewal("ci-deployer");
    const second = await vendor.getToken(ci());
    expect(vendor.renewal("ci-deployer")).toBeUndefined(); // no second attempt right away

    expect([first.token.accessToken, second.token.accessToken]).toEqual(["token-1", "token-1"]);
    expect(identity.requests).toHaveLength(2);
    expect(logger.lines.map((line) => line.message)).toContain(
      "background renewal failed; the current token is served while valid",
    );
  });

  it("leaves the renewal to another instance that holds the lease", async () => {
    const vendor = newVendor();
    await vendor.getToken(ci());
    clock.advanceSeconds(3000);
    store.leases.set("ci-deployer", { owner: "other-instance", until: clock.now() + LEASE_MS });

    await vendor.getToken(ci());
    await vendor.renewal("ci-deployer");

    expect(identity.requests).toHaveLength(1);
  });
});
