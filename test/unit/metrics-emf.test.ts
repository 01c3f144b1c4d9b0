/**
 * The metrics of the service, as CloudWatch reads them: EMF records in the output of the same
 * request handling the local server runs (and the Lambda entry wraps), parsed back and checked
 * metric by metric, dimension by dimension.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { EmfMetrics } from "../../functions/adapters/emf-metrics.js";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { METRIC_NAMESPACE } from "../../functions/core/metrics.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { createRequestHandling } from "../../functions/local/server.js";
import { createVending } from "../../functions/vend/vending.js";
import { captureOutput, type OutputCapture } from "../support/capture-output.js";
import {
  FakeClock,
  FakeIdentity,
  FakeSecrets,
  MemoryLogger,
  MemoryStore,
} from "../support/fakes.js";

const PORT = 8787;
const CALLER = "arn:aws:sts::111122223333:assumed-role/app/session";
const STRANGER = "arn:aws:sts::999988887777:assumed-role/app/session";
const config = parseProfilesConfig({
  profiles: {
    steady: {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "s",
      allowedCallers: ["111122223333"],
      prewarm: true,
    },
    flaky: {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "s",
      allowedCallers: ["111122223333"],
    },
  },
});

interface EmfRecord {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: {
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: { Name: string; Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

function emfRecords(text: string): EmfRecord[] {
  return text
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfRecord);
}

/** The records of one metric, as `{ dimensions, value, unit }`. */
function metric(records: EmfRecord[], name: string) {
  return records.flatMap((record) =>
    record._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.filter((m) => m.Name === name).map((m) => ({
        namespace: directive.Namespace,
        unit: m.Unit,
        dimensions: Object.fromEntries(
          (directive.Dimensions[0] ?? []).map((key) => [key, record[key]]),
        ),
        value: record[name],
      })),
    ),
  );
}

let clock: FakeClock;
let store: MemoryStore;
let identity: FakeIdentity;
let output: OutputCapture;

function newInstance() {
  const secrets = new FakeSecrets();
  secrets.set("s", { client_id: "svc", client_secret: "secret-value" });
  const vendor = new TokenVendor({
    config,
    secrets,
    store,
    identity,
    clock,
    logger: new MemoryLogger(),
    metrics: new EmfMetrics(),
    // Waiting for another instance's lease moves the fake clock, as real time would.
    sleep: async (ms) => clock.advanceSeconds(ms / 1000),
  });
  const logger = new MemoryLogger();
  const handle = createRequestHandling({
    vending: createVending({ vendor, clock, logger }),
    defaultCaller: CALLER,
    logger,
  });
  const get = (profile: string, caller = CALLER) =>
    handle({
      method: "GET",
      target: `/tokens/${profile}`,
      headers: { host: `127.0.0.1:${PORT}`, "x-caller-arn": caller },
      body: "",
      localPort: PORT,
    });
  return { vendor, get };
}

beforeEach(() => {
  clock = new FakeClock();
  store = new MemoryStore();
  identity = new FakeIdentity();
});

describe("metrics in Embedded Metric Format", () => {
  it("counts every cache level, denials, CyberArk requests, latency, errors and renewals, each with the contract's dimensions", async () => {
    const [a, b] = [newInstance(), newInstance()];
    output = captureOutput();
    try {
      expect((await a.get("steady")).statusCode).toBe(200); // upstream
      expect((await a.get("steady")).statusCode).toBe(200); // memory
      expect((await b.get("steady")).statusCode).toBe(200); // table
      expect((await a.get("steady", STRANGER)).statusCode).toBe(403);
      expect((await a.get("nope")).statusCode).toBe(403);
      identity.next.push(() => {
        throw new UpstreamUnavailableError({
          dependency: "identity",
          kind: "timeout",
          detail: "CyberArk failed 3 attempts: request failed: timed out",
          retryAfterSeconds: 5,
        });
      });
      expect((await a.get("flaky")).statusCode).toBe(503);
      store.items.delete("steady");
      expect(await a.vendor.renewScheduled()).toMatchObject({ renewed: 1 });
    } finally {
      output.stop();
    }
    const records = emfRecords(output.text());

    expect(
      new Set(records.flatMap((r) => r._aws.CloudWatchMetrics.map((d) => d.Namespace))),
    ).toEqual(new Set([METRIC_NAMESPACE]));
    expect(metric(records, "Vended").map((m) => [m.dimensions, m.value, m.unit])).toEqual([
      [{ Deployment: "local", Profile: "steady", CacheLevel: "upstream" }, 1, "Count"],
      [{ Deployment: "local", Profile: "steady", CacheLevel: "memory" }, 1, "Count"],
      [{ Deployment: "local", Profile: "steady", CacheLevel: "table" }, 1, "Count"],
    ]);
    expect(metric(records, "Denied").map((m) => m.dimensions)).toEqual([
      { Deployment: "local", Profile: "steady" },
      { Deployment: "local", Profile: "(unknown)" }, // a caller's made-up name never becomes a dimension
    ]);
    expect(metric(records, "UpstreamRequests").map((m) => m.dimensions)).toEqual([
      { Deployment: "local", Profile: "steady" },
      { Deployment: "local", Profile: "flaky" },
      { Deployment: "local", Profile: "steady" },
    ]);
    expect(metric(records, "UpstreamLatency").every((m) => m.unit === "Milliseconds")).toBe(true);
    expect(metric(records, "UpstreamLatency")).toHaveLength(3);
    expect(metric(records, "UpstreamErrors").map((m) => m.dimensions)).toEqual([
      { Deployment: "local", Profile: "flaky", Error: "timeout" },
    ]);
    expect(metric(records, "Renewals").map((m) => m.dimensions)).toEqual([
      { Deployment: "local", Profile: "steady", Trigger: "schedule" },
    ]);
  });

  it("writes every metric twice: per profile under its Deployment, and as the Deployment's total", () => {
    const metrics = new EmfMetrics({ deployment: "prod-tokens" });
    output = captureOutput();
    try {
      metrics.add("Vended", "steady", 1, "memory");
      metrics.add("Denied", "steady", 1);
    } finally {
      output.stop();
    }
    const records = emfRecords(output.text());

    expect(records.map((r) => r._aws.CloudWatchMetrics.map((d) => d.Dimensions))).toEqual([
      [[["Deployment", "Profile", "CacheLevel"], ["Deployment"]]],
      [[["Deployment", "Profile"], ["Deployment"]]],
    ]);
    expect(records.map((r) => r.Deployment)).toEqual(["prod-tokens", "prod-tokens"]);
  });

  it("counts a request that waited for another instance's lease", async () => {
    const a = newInstance();
    store.leases.set("steady", { owner: "another-instance", until: clock.now() + 100 });
    output = captureOutput();
    try {
      // The other instance's lease runs out while this one waits; it then refreshes itself.
      expect((await a.get("steady")).statusCode).toBe(200);
    } finally {
      output.stop();
    }

    expect(metric(emfRecords(output.text()), "LeaseWaits").map((m) => m.dimensions)).toEqual([
      { Deployment: "local", Profile: "steady" },
    ]);
  });

  it("never carries a token, a secret or a caller ARN in any record", async () => {
    const a = newInstance();
    output = captureOutput();
    let token = "";
    try {
      token = JSON.parse((await a.get("steady")).body ?? "{}").access_token;
      await a.get("steady", STRANGER);
    } finally {
      output.stop();
    }
    const text = JSON.stringify(emfRecords(output.text()));

    expect(token).not.toBe("");
    for (const secret of [token, "secret-value", CALLER, STRANGER])
      expect(text).not.toContain(secret);
  });

  it("aggregated (the local server): sums counts and lists latencies, one record per metric and dimensions", () => {
    const metrics = new EmfMetrics({ flushIntervalMs: 60_000 });
    output = captureOutput();
    try {
      for (let i = 0; i < 5; i += 1) metrics.add("Vended", "steady", 1, "memory");
      metrics.add("Vended", "steady", 1, "table");
      metrics.add("UpstreamLatency", "steady", 120);
      metrics.add("UpstreamLatency", "steady", 80);
      expect(emfRecords(output.text())).toEqual([]); // nothing before the interval ends
      metrics.close();
    } finally {
      output.stop();
    }
    const records = emfRecords(output.text());

    expect(metric(records, "Vended").map((m) => [m.dimensions, m.value])).toEqual([
      [{ Deployment: "local", Profile: "steady", CacheLevel: "memory" }, 5],
      [{ Deployment: "local", Profile: "steady", CacheLevel: "table" }, 1],
    ]);
    expect(metric(records, "UpstreamLatency").map((m) => m.value)).toEqual([[120, 80]]);
  });

  it("aggregated: series that alternate, and a series counted again after a write, lose nothing", () => {
    const metrics = new EmfMetrics({ flushIntervalMs: 60_000 });
    output = captureOutput();
    let first: EmfRecord[];
    try {
      metrics.add("Vended", "a", 1, "memory");
      metrics.add("Vended", "b", 1, "memory");
      metrics.add("Vended", "a", 1, "memory");
      metrics.add("Vended", "a", 1, "table");
      metrics.add("Denied", "a", 1);
      metrics.add("Vended", "a", 1, "memory");
      metrics.flush();
      first = emfRecords(output.text());
      metrics.add("Vended", "a", 1, "memory");
      metrics.close();
    } finally {
      output.stop();
    }
    const second = emfRecords(output.text()).slice(first.length);

    expect(metric(first, "Vended").map((m) => [m.dimensions, m.value])).toEqual([
      [{ Deployment: "local", Profile: "a", CacheLevel: "memory" }, 3],
      [{ Deployment: "local", Profile: "a", CacheLevel: "table" }, 1],
      [{ Deployment: "local", Profile: "b", CacheLevel: "memory" }, 1],
    ]);
    expect(metric(first, "Denied").map((m) => m.value)).toEqual([1]);
    expect(metric(second, "Vended").map((m) => [m.dimensions, m.value])).toEqual([
      [{ Deployment: "local", Profile: "a", CacheLevel: "memory" }, 1],
    ]);
  });
});
