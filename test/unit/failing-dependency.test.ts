/**
 * An error says which dependency failed and how, as typed fields: the caller's sentence names
 * that dependency (never "CyberArk Identity is unavailable" when the table, the secret store or
 * the lease failed), and nothing is read back out of message text.
 */
import { describe, expect, it } from "vitest";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { METRICS } from "../../functions/core/metrics.js";
import type { Metrics } from "../../functions/core/ports.js";
import { LEASE_MS } from "../../functions/core/timing.js";
import { ciDelete, ciQuery, vendorHarness } from "../support/vendor-harness.js";

async function rejection(work: Promise<unknown>): Promise<UpstreamUnavailableError> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(UpstreamUnavailableError);
  return error as UpstreamUnavailableError;
}

describe("errors carry the failing dependency and a typed kind", () => {
  it("a table that cannot delete is the table's failure, not CyberArk's", async () => {
    const h = vendorHarness();
    const vendor = h.newVendor();
    h.store.failing = true;
    const error = await rejection(vendor.invalidate(ciDelete()));
    expect(error).toMatchObject({
      dependency: "table",
      kind: "failed",
      code: "upstream_unavailable",
    });
    expect(error.description).not.toMatch(/CyberArk/);
  });

  it("a secret store that fails is the secret store's failure", async () => {
    const h = vendorHarness();
    const vendor = h.newVendor();
    const failure = new UpstreamUnavailableError({
      dependency: "secrets",
      kind: "failed",
      detail: "Secrets Manager failed: ThrottlingException",
      retryAfterSeconds: 5,
    });
    h.secrets.read = async () => {
      throw failure;
    };
    const error = await rejection(vendor.getToken(ciQuery()));
    expect(error).toMatchObject({ dependency: "secrets", retryAfterSeconds: 5 });
    expect(error.description).not.toMatch(/CyberArk/);
  });

  it("a lease held elsewhere too long is the lease's, and says another request is renewing", async () => {
    const h = vendorHarness();
    const vendor = h.newVendor();
    const until = h.clock.now() + LEASE_MS;
    h.store.leases.set("ci-deployer", { owner: "another instance", until });
    const error = await rejection(vendor.getToken(ciQuery()));
    expect(error).toMatchObject({ dependency: "lease", kind: "busy" });
    expect(error.description).not.toMatch(/CyberArk/);
  });

  it("counts a timeout by its kind, whatever the detail text says", async () => {
    const h = vendorHarness();
    const counted: string[] = [];
    const metrics: Metrics = {
      add: (metric, _profile, _value, dimension) => {
        if (metric === METRICS.upstreamErrors) counted.push(dimension ?? "");
      },
    };
    const vendor = h.newVendor(undefined, metrics);
    const fail = (kind: "timeout" | "failed", detail: string) => () => {
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind,
        detail,
        retryAfterSeconds: 5,
      });
    };
    h.identity.next.push(fail("timeout", "no answer"), fail("failed", "request failed: timed out"));
    await rejection(vendor.getToken(ciQuery()));
    h.clock.advanceSeconds(60);
    await rejection(vendor.getToken(ciQuery()));
    expect(counted).toEqual(["timeout", "upstream_unavailable"]);
  });
});
