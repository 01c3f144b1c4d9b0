import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { createKey, createSecret, createTokenTable, dynamodb, uniqueName } from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import { type InstanceSetup, newInstance } from "../support/instance.js";
import { expectNeverLogged } from "../support/never-logged.js";
import { entryOf, profileItem, putLease, putRaw, withEntry } from "../support/profile-items.js";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-runner/job`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/a`;
const CLIENT = { client_id: "svc-stampede@example.com", client_secret: "stampede-Secret%+" };

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
});
let setup: InstanceSetup;
// A clock the test can move forward, shared by every instance of a test.
let offsetMs = 0;
const clock = { now: () => Date.now() + offsetMs };

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  const secretId = await createSecret(uniqueName("cyberark/stampede"), CLIENT);
  const profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-concurrency-")), "profiles.json");
  const profile = { tenantUrl, secretId, allowedCallers: [ACCOUNT] };
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: { alpha: profile, beta: profile },
      adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
    }),
  );
  setup = {
    profilesFile,
    tableName: await createTokenTable(),
    kmsKeyId: await createKey(),
    clock,
    defaultCaller: CALLER,
    vended,
  };
});

afterAll(async () => {
  output.stop();
  await simulator.stop();
});

beforeEach(async () => {
  offsetMs = 0;
  simulator.reset();
  const admin = newInstance(setup);
  await admin({ method: "DELETE", profile: "alpha", callerArn: ADMIN });
  await admin({ method: "DELETE", profile: "beta", callerArn: ADMIN });
});

const item = (profile: string) => profileItem(setup.tableName, profile);

describe("one CyberArk request per profile across instances", () => {
  it("50 concurrent cold requests on two instances: all 200, one token, exactly one upstream request", async () => {
    simulator.failNext({ kind: "delay", ms: 400 }); // the first exchange is slow, so others must wait
    const instances = [newInstance(setup), newInstance(setup)];

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, index) => instances[index % 2]?.({ profile: "alpha" })),
    );

    expect(responses.map((response) => response?.statusCode)).toEqual(Array(50).fill(200));
    expect(new Set(responses.map((response) => response?.json.access_token)).size).toBe(1);
    expect(simulator.requests).toHaveLength(1);
    expect(entryOf(await item("alpha"), "leases")).toBeUndefined(); // released
  });

  it("takes over a lease left by a crashed instance once it expires", async () => {
    await putLease(setup.tableName, "alpha", "crashed-instance", Date.now() + 800);
    const started = Date.now();

    const response = await newInstance(setup)({ profile: "alpha" });

    expect(response.statusCode).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(simulator.requests).toHaveLength(1);
  });

  it("keeps profiles apart: a stampede on one does not make the other wait", async () => {
    simulator.failNext({ kind: "delay", ms: 400 });
    const instance = newInstance(setup);

    const [alpha, beta] = await Promise.all([
      instance({ profile: "alpha" }),
      instance({ profile: "beta" }),
    ]);

    expect([alpha.statusCode, beta.statusCode]).toEqual([200, 200]);
    expect(simulator.requests).toHaveLength(2);
  });
});

describe("tokens at rest", () => {
  it("leaves no plaintext token in any item of the table", async () => {
    await Promise.all([
      newInstance(setup)({ profile: "alpha" }),
      newInstance(setup)({ profile: "beta" }),
    ]);

    const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: setup.tableName }));
    const table = JSON.stringify(Items);
    expect(Items.length).toBeGreaterThanOrEqual(2);
    for (const token of vended) {
      expect(table).not.toContain(token);
      for (const part of token.split(".")) expect(table).not.toContain(part);
    }
  });

  it("treats a ciphertext moved to another profile's item as a miss", async () => {
    const instance = newInstance(setup);
    await instance({ profile: "alpha" });
    await instance({ profile: "beta" });
    const alpha = await item("alpha");
    const beta = await item("beta");
    // Same identity (cache key), other item: only the sealing context differs.
    const moved = entryOf(alpha, "tokens");
    if (!beta || !moved) throw new Error("no tokens");
    await putRaw(setup.tableName, withEntry(beta, "tokens", { M: moved }));
    simulator.reset();

    const response = await newInstance(setup)({ profile: "beta" });

    expect(response.statusCode).toBe(200);
    expect(simulator.requests).toHaveLength(1);
    expect(output.text()).toContain(
      "cached token in the profile's item is not usable; treating as a miss",
    );
  });
});

describe("failures", () => {
  it("serves the cached token while CyberArk fails, renewing in the background", async () => {
    const instance = newInstance(setup);
    const original = (await instance({ profile: "alpha" })).json.access_token;
    offsetMs = 3000 * 1000; // 600 s left of 3600: usable, and due for renewal
    simulator.failNext({ kind: "status", status: 503 }, 3);

    const during = await instance({ profile: "alpha" });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the background renewal fail

    expect(during.statusCode).toBe(200);
    expect(during.json.access_token).toBe(original);
    expect(simulator.requests).toHaveLength(4);
    expect(output.text()).toContain(
      "background renewal failed; the current token is served while valid",
    );
  });

  it("answers 503 with Retry-After once the cached token is not valid for min_validity", async () => {
    const instance = newInstance(setup);
    await instance({ profile: "alpha" });
    offsetMs = 3400 * 1000; // 200 s left: not enough for the default 300
    // A Retry-After longer than the wait between attempts ends the request after one attempt.
    simulator.failNext({ kind: "status", status: 503, retryAfter: "7" });

    const response = await instance({ profile: "alpha" });

    expect(response.statusCode).toBe(503);
    expect(response.headers?.["Retry-After"]).toBe("7");
    // A caller content with 100 s still gets the cached token; during the back-off the profile
    // sends CyberArk nothing, not even a background renewal.
    const content = await instance({ profile: "alpha", query: { min_validity: ["100"] } });
    expect(content.statusCode).toBe(200);
    // The background renewal it starts is held back by the tenant's back-off: it ends, logged,
    // without a request. 1 original token + 1 failed attempt.
    await vi.waitFor(() => expect(output.text()).toContain("CyberArk asked for a back-off"));
    expect(simulator.requests).toHaveLength(2);
    // Once the Retry-After has passed, the next such request starts the renewal.
    offsetMs += 8 * 1000;
    const later = await instance({ profile: "alpha", query: { min_validity: ["100"] } });
    expect(later.statusCode).toBe(200);
    // 1 original token + 1 failed attempt + the renewal.
    await vi.waitFor(() => expect(simulator.requests).toHaveLength(3));
  });

  it("remembers a rejection for a few seconds: a second request does not reach CyberArk", async () => {
    const instance = newInstance(setup);
    simulator.failNext({ kind: "status", status: 400, body: '{"error":"invalid_request"}' });

    const first = await instance({ profile: "beta" });
    const second = await instance({ profile: "beta" });

    expect([first.statusCode, second.statusCode]).toEqual([502, 502]);
    expect(simulator.requests).toHaveLength(1);
  });

  it("keeps vending when the table is unavailable, one upstream request per instance", async () => {
    const broken = newInstance({ ...setup, tableName: "no-such-table" });

    const responses = await Promise.all(
      Array.from({ length: 20 }, () => broken({ profile: "alpha" })),
    );

    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(200));
    expect(simulator.requests).toHaveLength(1);
    expect(output.text()).toContain("refresh lease unavailable; refreshing without it");
  });
});
