/**
 * A table writer without the token key, as the third review ran it: a principal with
 * `dynamodb:PutItem` on the table edits the profile's item: moves its DELETE counter ahead, writes
 * a refresh lease or a back-off, and keeps rewriting it. In AWS the table's resource policy refuses these
 * writes to every principal but the function's role (test/infra/table-policy.test.ts); moto does
 * not enforce resource policies, so this is what the service itself does when such an item is
 * there anyway (the function's own role, or a break-glass role, misused). The README's threat
 * model says the same.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { profileItemKey } from "../../functions/adapters/token-table.js";
import { NO_SCOPES, setTag } from "../../functions/core/scope-set.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { createKey, createSecret, createTokenTable, uniqueName } from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import { newInstance as newTestInstance } from "../support/instance.js";
import { expectNeverLogged } from "../support/never-logged.js";
import { profileItem, putRaw } from "../support/profile-items.js";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/app/run`;
const CLIENT = { client_id: "svc-writer@example.com", client_secret: "writer-Secret" };

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  tokenLifetimeSeconds: 3600,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;
let profile: string;
let counter = 0;

const newInstance = () =>
  newTestInstance({ profilesFile, tableName, kmsKeyId, defaultCaller: CALLER, vended });

/** The attacker: plain GetItem and PutItem calls, with no key and no code of the service. */
const attacker = {
  /** The profile's item with `attributes` changed (a believable one made up if there is none). */
  async write(attributes: Record<string, AttributeValue>) {
    const item = (await profileItem(tableName, profile)) ?? {
      pk: { S: profileItemKey(profile) },
      incarnation: { S: "forged" },
      version: { N: "1" },
      epoch: { N: "0" },
    };
    await putRaw(tableName, { ...item, ...attributes });
  },
  /** Moves the DELETE counter ahead, as if many DELETEs had been made. */
  async epochAhead() {
    const epoch = Number((await profileItem(tableName, profile))?.epoch?.N ?? 0);
    await attacker.write({ epoch: { N: String(epoch + 1_000) } });
  },
  lease: (ms: number) =>
    attacker.write({
      leases: {
        M: {
          [setTag(NO_SCOPES)]: {
            M: { owner: { S: "attacker" }, until: { N: String(Date.now() + ms) } },
          },
        },
      },
    }),
  backOff: (ms: number) => attacker.write({ backOffUntil: { N: String(Date.now() + ms) } }),
};

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/writer"), CLIENT);
  const profiles = Object.fromEntries(
    Array.from({ length: 8 }, (_, index) => [
      `p${index}`,
      { tenantUrl, secretId, allowedCallers: [ACCOUNT] },
    ]),
  );
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-writer-")), "profiles.json");
  writeFileSync(profilesFile, JSON.stringify({ profiles }));
});

afterAll(async () => {
  output.stop();
  await simulator.stop();
});

beforeEach(() => {
  // A profile of its own per test: no test sees another's items.
  profile = `p${counter++}`;
  simulator.reset();
});

describe("a DELETE counter moved ahead, and moved again", () => {
  it("never refuses every write: one CyberArk request per move, and the token is cached", async () => {
    await attacker.epochAhead();
    const first = await newInstance()({ profile });
    const coldElsewhere = await newInstance()({ profile });

    expect([first.statusCode, coldElsewhere.statusCode]).toEqual([200, 200]);
    expect(coldElsewhere.json.access_token).toBe(first.json.access_token);
    expect(simulator.requests).toHaveLength(1);

    // The next rewrite replaces the cached item (the attacker may delete it outright, too):
    // one more request, and the new token is cached again.
    await attacker.epochAhead();
    const afterRewrite = await newInstance()({ profile });
    const again = await newInstance()({ profile });
    expect([afterRewrite.statusCode, again.statusCode]).toEqual([200, 200]);
    expect(again.json.access_token).toBe(afterRewrite.json.access_token);
    expect(simulator.requests).toHaveLength(2);
  });
});

describe("a refresh lease", () => {
  it("ending later than any lease the service takes is taken over at once", async () => {
    await attacker.lease(LEASE_MS + 60_000);
    const started = Date.now();
    const response = await newInstance()({ profile });

    expect(response.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(simulator.requests).toHaveLength(1);
  });

  it("that is believable never stops a cached token being served, on any instance", async () => {
    const cached = await newInstance()({ profile });
    await attacker.lease(LEASE_MS - 1_000);

    const coldElsewhere = await newInstance()({ profile });

    expect(coldElsewhere.statusCode).toBe(200);
    expect(coldElsewhere.json.access_token).toBe(cached.json.access_token);
    expect(simulator.requests).toHaveLength(1);
  });
});

describe("a back-off", () => {
  it("ending later than CyberArk may ask is ignored, and does not keep a real back-off out", async () => {
    await attacker.backOff(MAX_BACK_OFF_MS + 60_000);
    simulator.failNext({ kind: "status", status: 429, retryAfter: "30" });

    // The edited back-off is ignored: CyberArk is asked, and asks for a real pause of 30 s.
    const limited = await newInstance()({ profile });
    // That pause replaced the edited item, so another instance holds back too.
    const elsewhere = await newInstance()({ profile });
    const Item = await profileItem(tableName, profile);

    expect([limited.statusCode, elsewhere.statusCode]).toEqual([503, 503]);
    expect(Number(elsewhere.headers?.["Retry-After"])).toBeLessThanOrEqual(30);
    expect(Number(Item?.backOffUntil?.N) - Date.now()).toBeLessThanOrEqual(30_000);
    expect(simulator.requests).toHaveLength(1);
  });

  it("that is believable pauses requests to CyberArk, but a cached token is still served", async () => {
    const cached = await newInstance()({ profile });
    await attacker.backOff(MAX_BACK_OFF_MS - 1_000);

    const served = await newInstance()({ profile });
    expect(served.statusCode).toBe(200);
    expect(served.json.access_token).toBe(cached.json.access_token);
    expect(simulator.requests).toHaveLength(1);
  });
});
