import { beforeEach, describe, expect, it } from "vitest";
import type { MetricName } from "../../functions/core/metrics.js";
import type { Metrics } from "../../functions/core/ports.js";
import { LEASE_MS } from "../../functions/core/timing.js";
import {
  ciDelete,
  ciQuery,
  prewarmConfig,
  type VendorHarness,
  vendorHarness,
} from "../support/vendor-harness.js";

// ci-deployer and nightly have `prewarm: true`; reports-app does not.
const CI_CLIENT = "svc-ci@example.com";
const NIGHTLY_CLIENT = "svc-nightly@example.com";

class RecordingMetrics implements Metrics {
  readonly added: { metric: MetricName; profile: string; value: number; dimension?: string }[] = [];
  add(metric: MetricName, profile: string, value: number, dimension?: string): void {
    this.added.push({ metric, profile, value, ...(dimension ? { dimension } : {}) });
  }
}

let h: VendorHarness;

beforeEach(() => {
  h = vendorHarness();
  h.secrets.set("cyberark/nightly", { client_id: NIGHTLY_CLIENT, client_secret: "n1ght" });
});

const askedFor = (clientId: string) =>
  h.identity.requests.filter((request) => request.clientId === clientId).length;

describe("TokenVendor.renewScheduled: which prewarm profiles it renews", () => {
  it("renews a prewarm profile whose table holds no token, and counts it", async () => {
    // Prepare
    const metrics = new RecordingMetrics();
    const vendor = h.newVendor(prewarmConfig(), metrics);

    // Act
    const report = await vendor.renewScheduled();

    // Assess
    expect(report).toEqual({ renewed: 2, fresh: 0, busy: 0, failed: 0 });
    expect(h.store.items.get("ci-deployer")?.issuedAt).toBe(h.clock.now());
    expect(h.store.items.get("nightly")?.issuedAt).toBe(h.clock.now());
    expect(metrics.added).toContainEqual({
      metric: "Renewals",
      profile: "ci-deployer",
      value: 1,
      dimension: "schedule",
    });
  });

  it("leaves a young token alone without asking CyberArk", async () => {
    const vendor = h.newVendor(prewarmConfig());
    await vendor.renewScheduled();
    const stored = h.store.items.get("ci-deployer");
    h.clock.advanceSeconds(1800 - 1); // 3600 s tokens: just over half their lifetime left

    const report = await h.newVendor(prewarmConfig()).renewScheduled();

    expect(report).toEqual({ renewed: 0, fresh: 2, busy: 0, failed: 0 });
    expect(h.identity.requests).toHaveLength(2);
    expect(h.store.items.get("ci-deployer")).toBe(stored);
  });

  it("renews a token that has less than half its lifetime left", async () => {
    await h.newVendor(prewarmConfig()).renewScheduled();
    h.clock.advanceSeconds(1800 + 1);

    const report = await h.newVendor(prewarmConfig()).renewScheduled();

    expect(report).toEqual({ renewed: 2, fresh: 0, busy: 0, failed: 0 });
    expect(h.identity.requests).toHaveLength(4);
    expect(h.store.items.get("ci-deployer")?.issuedAt).toBe(h.clock.now());
  });

  it("then serves the next caller from the table, without waiting for CyberArk", async () => {
    await h.newVendor(prewarmConfig()).renewScheduled();
    h.clock.advanceSeconds(1800 + 1);
    await h.newVendor(prewarmConfig()).renewScheduled();

    const vended = await h.newVendor(prewarmConfig()).getToken(ciQuery());

    expect(vended.cache).toBe("table");
    expect(h.identity.requests).toHaveLength(4);
  });

  it("never fetches a profile without prewarm", async () => {
    const vendor = h.newVendor(prewarmConfig());

    await vendor.renewScheduled();
    h.clock.advanceSeconds(3600 * 2);
    await vendor.renewScheduled();

    expect(
      h.identity.requests.filter((request) =>
        request.endpoint.endsWith("/oauth2/token/reports_api"),
      ),
    ).toEqual([]);
    expect(h.store.items.has("reports-app")).toBe(false);
    expect(h.secrets.reads).not.toContain("cyberark/reports");
  });
});

describe("TokenVendor.renewScheduled: failures and contention", () => {
  it("counts a profile with a broken secret as failed and still renews the others", async () => {
    h.secrets.set("cyberark/nightly", "not json at all");
    const vendor = h.newVendor(prewarmConfig());

    const report = await vendor.renewScheduled();

    expect(report).toEqual({ renewed: 1, fresh: 0, busy: 0, failed: 1 });
    expect(askedFor(CI_CLIENT)).toBe(1);
    expect(h.store.items.has("ci-deployer")).toBe(true);
    expect(h.logger.lines).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "scheduled renewal failed; retried on the next run",
        attributes: expect.objectContaining({ profile: "nightly" }),
      }),
    );
    expect(JSON.stringify(h.logger.lines)).not.toContain("s3cret");
  });

  it("never throws when CyberArk fails, and retries on the next run", async () => {
    h.identity.next.push(() => {
      throw new Error("connection reset");
    });
    const vendor = h.newVendor(prewarmConfig());

    const first = await vendor.renewScheduled();
    const second = await vendor.renewScheduled();

    expect(first.failed).toBe(1);
    expect(first.renewed).toBe(1);
    expect(second).toEqual({ renewed: 1, fresh: 1, busy: 0, failed: 0 });
  });

  it("counts a profile whose lease another instance holds as busy, and asks CyberArk nothing for it", async () => {
    h.store.leases.set("ci-deployer", { owner: "elsewhere", until: h.clock.now() + LEASE_MS });

    const report = await h.newVendor(prewarmConfig()).renewScheduled();

    expect(report).toEqual({ renewed: 1, fresh: 0, busy: 1, failed: 0 });
    expect(askedFor(CI_CLIENT)).toBe(0);
    expect(askedFor(NIGHTLY_CLIENT)).toBe(1);
  });

  it("carries counts only, never a token", async () => {
    const report = await h.newVendor(prewarmConfig()).renewScheduled();

    expect(Object.keys(report).sort()).toEqual(["busy", "failed", "fresh", "renewed"]);
    expect(JSON.stringify(report)).not.toMatch(/token-\d/);
  });
});

describe("TokenVendor.renewScheduled: a DELETE during the renewal", () => {
  it("keeps the renewed token out of the deleting instance's memory and out of the table", async () => {
    // Prepare: ci-deployer's renewal exchange is under way when the admin deletes its token.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const answer = h.identity.fallback;
    h.identity.fallback = async (request) => {
      if (request.clientId !== CI_CLIENT) return answer(request);
      await released;
      return { accessToken: "renewed-during-delete", expiresIn: 3600 };
    };
    const vendor = h.newVendor(prewarmConfig());
    const renewal = vendor.renewScheduled();
    await h.upstreamAsked(2);
    h.identity.fallback = answer;

    // Act
    await vendor.invalidate(ciDelete());
    release();
    await renewal;

    // Assess: the table holds nothing for the profile (the renewal's write was fenced off, so the
    // next run, or the next request, gets a token of the current identity) ...
    expect(h.store.items.has("ci-deployer")).toBe(false);
    // ... and this instance's memory does not serve the renewed token: the next GET asks again.
    const after = await vendor.getToken(ciQuery());
    expect(after.cache).toBe("upstream");
    expect(after.token.accessToken).not.toBe("renewed-during-delete");
  });
});
