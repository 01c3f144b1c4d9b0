/**
 * What the DynamoDB profile store promises beyond the port's contract, on moto: an item edited by
 * anyone without the token key (hints changed, a sealed token copied from another set or another
 * epoch, a counter forged far ahead, attributes of the wrong type) is a miss, logged with its
 * reason: never served, never a crash, and never a set locked out (the next write replaces it).
 * The item's TTL follows the latest end of what it holds; eight sets of the largest tokens fit in
 * one item; a failing table is reported as the table being unavailable.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  DeleteTableCommand,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoDbProfileStore } from "../../functions/adapters/dynamodb-profile-store.js";
import { DELETE_KEPT_MS } from "../../functions/adapters/profile-item-deletion.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { profileItemKey } from "../../functions/adapters/token-table.js";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { MAX_LIVE_SETS } from "../../functions/core/profile-record.js";
import { scopeSetOf, setTag } from "../../functions/core/scope-set.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
import {
  DEFAULT_TAG,
  leased,
  OTHER_TAG,
  served,
  storeToken,
  T0,
  token,
  withToken,
} from "../support/profile-store-contract.js";
import { type StoreOnTable, storeOnMoto } from "../support/profile-store-fixtures.js";

const P = "p";
let table: StoreOnTable;

beforeEach(async () => {
  table = await storeOnMoto({ kmsKey: false, now: () => T0 });
});

async function raw(): Promise<Record<string, AttributeValue>> {
  const { Item } = await table.client.send(
    new GetItemCommand({
      TableName: table.tableName,
      Key: { pk: { S: profileItemKey(P) } },
      ConsistentRead: true,
    }),
  );
  if (!Item) throw new Error("no item");
  return Item;
}

async function put(item: Record<string, AttributeValue>): Promise<void> {
  await table.client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
}

function tokenMap(item: Record<string, AttributeValue>): Record<string, AttributeValue> {
  return item.tokens?.M ?? {};
}

function withEntry(
  item: Record<string, AttributeValue>,
  tag: string,
  entry: AttributeValue,
): Record<string, AttributeValue> {
  return { ...item, tokens: { M: { ...tokenMap(item), [tag]: entry } } };
}

/** After an edit: nothing served, the reason logged, and a fresh token for the set still lands. */
async function expectMissThenRecovery(reason?: string): Promise<void> {
  expect(await served(table.store, P)).toBeUndefined();
  if (reason) {
    expect(table.logger.lines.map((l) => l.attributes.reason)).toContain(reason);
  }
  await storeToken(table.store, P, token({ accessToken: "fresh" }));
  expect((await served(table.store, P))?.accessToken).toBe("fresh");
}

describe("an edited item", () => {
  beforeEach(async () => {
    await storeToken(table.store, P, token());
    await storeToken(table.store, P, token({ accessToken: "other" }), OTHER_TAG);
  });

  it("whose expiry hint was moved is a miss, logged as edited, and the set recovers", async () => {
    const item = await raw();
    const entry = tokenMap(item)[DEFAULT_TAG];
    if (!entry?.M) throw new Error("no entry");
    await put(
      withEntry(item, DEFAULT_TAG, {
        M: { ...entry.M, expiresAt: { N: String(T0 + 9_000_000) } },
      }),
    );
    await expectMissThenRecovery("hints edited");
  });

  it("whose sealed token was copied from another set is a miss, and the set recovers", async () => {
    const item = await raw();
    const other = tokenMap(item)[OTHER_TAG];
    if (!other) throw new Error("no entry");
    await put(withEntry(item, DEFAULT_TAG, other));
    await expectMissThenRecovery("does not open");
  });

  it("whose sealed token was copied from an earlier epoch (hints made current) is a miss", async () => {
    const before = await raw();
    const old = tokenMap(before)[DEFAULT_TAG];
    if (!old?.M) throw new Error("no entry");
    await table.store.delete(P, T0);
    const after = await raw();
    await put(withEntry(after, DEFAULT_TAG, { M: { ...old.M, epoch: { N: "1" } } }));
    await expectMissThenRecovery("hints edited");
  });

  it("whose sealed token was copied from an earlier incarnation is a miss", async () => {
    const item = await raw();
    await put({ ...item, incarnation: { S: "another-life" } });
    await expectMissThenRecovery("sealed in another incarnation");
  });

  it("with its epoch forged far ahead is a miss, and then works like any epoch", async () => {
    const item = await raw();
    const far = String(Number.MAX_SAFE_INTEGER - 10);
    await put({ ...item, epoch: { N: far } });
    expect(await served(table.store, P)).toBeUndefined();
    await storeToken(table.store, P, token({ accessToken: "fresh" }));
    expect((await served(table.store, P))?.accessToken).toBe("fresh");
    const deleted = await table.store.delete(P, T0);
    expect(deleted.epoch).toBe(Number(far));
    expect(deleted.dropped.map((t) => t.accessToken)).toContain("fresh");
  });

  for (const [what, edit] of [
    ["epoch as a string", { epoch: { S: "abc" } }],
    ["version as a string", { version: { S: "1" } }],
    ["version beyond any integer", { version: { N: "99999999999999999999999999999999" } }],
    ["epoch as a fraction", { epoch: { N: "1.5" } }],
    ["a negative version", { version: { N: "-3" } }],
    ["incarnation as a number", { incarnation: { N: "7" } }],
    ["no incarnation", { incarnation: undefined }],
    ["tokens as a list", { tokens: { L: [] } }],
    ["a token entry without its hints", { tokens: { M: { [DEFAULT_TAG]: { M: {} } } } }],
    ["a token entry as a string", { tokens: { M: { [DEFAULT_TAG]: { S: "x" } } } }],
    [
      "a lease with a string end",
      { leases: { M: { [DEFAULT_TAG]: { M: { owner: { S: "o" }, until: { S: "9" } } } } } },
    ],
    ["places under a tag no set has", { places: { M: { "not a tag": { M: {} } } } }],
    ["a back-off as a string", { backOffUntil: { S: "soon" } }],
    ["a ttl as a string", { ttl: { S: "later" } }],
  ] as const) {
    it(`with ${what} reads without throwing, serves nothing it cannot check, and is replaced by the next write and by a DELETE`, async () => {
      const item = await raw();
      const edited: Record<string, AttributeValue> = { ...item };
      for (const [name, value] of Object.entries(edit)) {
        if (value === undefined) delete edited[name];
        else edited[name] = value as AttributeValue;
      }
      await put(edited);
      const read = await table.store.read(P);
      for (const entry of read.record.sets.values()) {
        const opened = await entry.token?.token.open();
        if (opened) expect(opened.accessToken).toMatch(/^(token-a|other)$/);
      }
      await storeToken(table.store, P, token({ accessToken: "fresh" }));
      expect((await served(table.store, P))?.accessToken).toBe("fresh");

      await put(edited);
      const deleted = await table.store.delete(P, T0);
      expect(deleted.incarnation).toEqual(expect.any(String));
      const after = (await table.store.read(P)).record;
      expect(after.incarnation).toBe(deleted.incarnation);
      expect(after.epoch).toBe(deleted.epoch + 1);
      expect([...after.sets.values()].some((entry) => entry.token)).toBe(false);
    });
  }
});

describe("times no instance could have written", () => {
  it("a lease ending later than any lease taken now could is not held; a believable one is", async () => {
    const first = await table.store.read(P);
    await table.store.write(P, first, leased(first));
    const item = await raw();
    const lease = (until: number) => ({
      M: { [DEFAULT_TAG]: { M: { owner: { S: "attacker" }, until: { N: String(until) } } } },
    });
    await put({ ...item, leases: lease(T0 + 10 * LEASE_MS) });
    expect((await table.store.read(P)).record.sets.get(DEFAULT_TAG)?.lease).toBeUndefined();
    await put({ ...item, leases: lease(T0 + LEASE_MS) });
    expect((await table.store.read(P)).record.sets.get(DEFAULT_TAG)?.lease?.owner).toBe("attacker");
  });

  it("a back-off later than CyberArk may ask for is not honoured; a believable one is", async () => {
    await storeToken(table.store, P, token());
    const item = await raw();
    await put({ ...item, backOffUntil: { N: String(T0 + 10 * MAX_BACK_OFF_MS) } });
    expect((await table.store.read(P)).record.backOffUntil).toBe(0);
    await put({ ...item, backOffUntil: { N: String(T0 + MAX_BACK_OFF_MS) } });
    expect((await table.store.read(P)).record.backOffUntil).toBe(T0 + MAX_BACK_OFF_MS);
  });
});

describe("an item that vanished (its ttl passed) and came back", () => {
  const vanish = () =>
    table.client.send(
      new DeleteItemCommand({ TableName: table.tableName, Key: { pk: { S: profileItemKey(P) } } }),
    );

  it("refuses a writer that read its earlier incarnation, even at the same version", async () => {
    const first = await table.store.read(P);
    await table.store.write(P, first, leased(first, DEFAULT_TAG, "owner-1", "inc-old"));
    const frozen = await table.store.read(P);
    await vanish();
    const fresh = await table.store.read(P);
    expect(await table.store.write(P, fresh, leased(fresh, DEFAULT_TAG, "o", "inc-new"))).toBe(
      true,
    );
    expect((await table.store.read(P)).record).toMatchObject({
      incarnation: "inc-new",
      version: 1,
    });

    expect(await table.store.write(P, frozen, withToken(table.store, P, frozen, token()))).toBe(
      false,
    );
    expect(await served(table.store, P)).toBeUndefined();
  });

  it("a DELETE of the vanished item starts a new incarnation, and refuses the writer of the old one", async () => {
    const first = await table.store.read(P);
    await table.store.write(P, first, leased(first, DEFAULT_TAG, "owner-1", "inc-old"));
    const frozen = await table.store.read(P);
    await vanish();
    const deleted = await table.store.delete(P, T0);
    expect(deleted).toMatchObject({ epoch: 0, dropped: [] });
    expect(deleted.incarnation).not.toBe("inc-old");
    expect(await table.store.write(P, frozen, withToken(table.store, P, frozen, token()))).toBe(
      false,
    );
  });
});

describe("the item's ttl", () => {
  it("follows the latest end of what it holds: a lease, then a token", async () => {
    const first = await table.store.read(P);
    await table.store.write(P, first, leased(first));
    expect((await raw()).ttl).toEqual({ N: String(Math.ceil((T0 + 30_000) / 1000)) });
    const read = await table.store.read(P);
    const t = token({ expiresAt: T0 + 1_234_567 });
    await table.store.write(P, read, withToken(table.store, P, read, t));
    expect((await raw()).ttl).toEqual({ N: String(Math.ceil((T0 + 1_234_567) / 1000)) });
  });

  it("outlasts a DELETE by the leases and back-off it keeps, even through the writes after it", async () => {
    await storeToken(table.store, P, token({ expiresAt: T0 + 60_000 }));
    await table.store.delete(P, T0);
    const kept = String(Math.ceil((T0 + DELETE_KEPT_MS) / 1000));
    expect((await raw()).ttl).toEqual({ N: kept });
    const read = await table.store.read(P);
    await table.store.write(P, read, leased(read));
    expect((await raw()).ttl).toEqual({ N: kept });
  });
});

describe("other sets' tokens", () => {
  it("are written back exactly as read, never sealed again, by a write about another set", async () => {
    await storeToken(table.store, P, token({ accessToken: "other" }), OTHER_TAG);
    const before = tokenMap(await raw())[OTHER_TAG];
    await storeToken(table.store, P, token());
    expect(tokenMap(await raw())[OTHER_TAG]).toEqual(before);
  });
});

describe("secrecy", () => {
  it("keeps the token, its scope and its cache key only inside the sealed record", async () => {
    await storeToken(table.store, P, token({ accessToken: "secret-token", scope: "SecretScope" }));
    const text = JSON.stringify(await raw());
    expect(text).not.toContain("secret-token");
    expect(text).not.toContain("SecretScope");
    expect(text).not.toContain("identity-a");
  });
});

describe("size", () => {
  it(`holds ${MAX_LIVE_SETS} sets of 16 KiB tokens in one item`, async () => {
    const big = "x".repeat(16 * 1024);
    const tags = Array.from({ length: MAX_LIVE_SETS }, (_, i) =>
      i === 0 ? DEFAULT_TAG : setTag(scopeSetOf([`scope-${i}`])),
    );
    for (const tag of tags) {
      await storeToken(table.store, P, token({ accessToken: `${big}-${tag}` }), tag);
    }
    for (const tag of tags) {
      expect((await served(table.store, P, tag))?.accessToken).toBe(`${big}-${tag}`);
    }
  });
});

describe("a failing key service", () => {
  it("makes a token write fail as the token cache being unavailable, never half-written", async () => {
    const noKeys = new EnvelopeCipher({
      generate: () =>
        Promise.reject(Object.assign(new Error("down"), { name: "KMSInternalException" })),
      unwrap: () => Promise.reject(new Error("down")),
    });
    const store = new DynamoDbProfileStore(table.client, table.tableName, noKeys, table.logger);
    const first = await store.read(P);
    expect(await store.write(P, first, leased(first))).toBe(true);
    const read = await store.read(P);
    await expect(store.write(P, read, withToken(store, P, read, token()))).rejects.toMatchObject({
      dependency: "table",
      code: "upstream_unavailable",
    });
    expect((await store.read(P)).record.version).toBe(1);
  });
});

describe("a failing table", () => {
  it("is reported as the token table being unavailable, on read, write and DELETE", async () => {
    const read = await table.store.read(P);
    await table.client.send(new DeleteTableCommand({ TableName: table.tableName }));
    const unavailable = { dependency: "table", code: "upstream_unavailable" };
    await expect(table.store.read(P)).rejects.toMatchObject(unavailable);
    await expect(table.store.write(P, read, leased(read))).rejects.toMatchObject(unavailable);
    await expect(table.store.delete(P, T0)).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });
});
