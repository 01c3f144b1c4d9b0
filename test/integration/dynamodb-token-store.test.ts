import {
  type AttributeValue,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbTokenStore } from "../../functions/adapters/dynamodb-token-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import {
  leaseItemKey,
  profileItemKey,
  tokenItemKey,
} from "../../functions/adapters/token-table.js";
import type { TokenPut } from "../../functions/core/ports.js";
import { NO_SCOPES, scopeSetOf } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { createKey, createTokenTable, dynamodb, kms } from "../support/aws.js";
import { MemoryLogger } from "../support/fakes.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const NOW = Date.now();
const PROFILE = "ci-deployer";

let tableName: string;
let cipher: EnvelopeCipher;
let logger: MemoryLogger;

function newStore(): DynamoDbTokenStore {
  return new DynamoDbTokenStore(dynamodb, tableName, cipher, logger);
}

function token(name: string, issuedAt: number, lifetimeMs: number, scope?: string): CachedToken {
  return {
    cacheKey: "identity-1",
    accessToken: name,
    ...(scope === undefined ? {} : { scope }),
    issuedAt,
    expiresAt: issuedAt + lifetimeMs,
  };
}

// Credentials read when the token was issued, unless the test says otherwise.
function put(
  store: DynamoDbTokenStore,
  stored: CachedToken,
  credentialsReadAt = stored.issuedAt,
): Promise<TokenPut> {
  return store.put(PROFILE, NO_SCOPES, stored, { credentialsReadAt });
}

async function tokenOf(store: DynamoDbTokenStore): Promise<CachedToken | undefined> {
  return (await store.get(PROFILE, NO_SCOPES)).token;
}

async function removeItem(): Promise<void> {
  await dynamodb.send(
    new DeleteItemCommand({
      TableName: tableName,
      Key: { pk: { S: tokenItemKey(PROFILE, NO_SCOPES) } },
    }),
  );
}

async function storedItem(): Promise<Record<string, AttributeValue>> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: tokenItemKey(PROFILE, NO_SCOPES) } },
      ConsistentRead: true,
    }),
  );
  if (!Item) throw new Error("no item stored");
  return Item;
}

async function writeItem(item: Record<string, AttributeValue>): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: item }));
}

// The ciphertext is the one attribute a reader cannot make sense of; everything else is readable.
function isCiphertext(value: AttributeValue): boolean {
  return value.S?.startsWith("v1.") ?? false;
}

/**
 * What someone with table write access but no KMS key can do: edit every readable attribute
 * (but those in `except`), numbers a day forward, strings replaced.
 */
async function editEveryPlaintextAttribute(except: readonly string[] = []): Promise<string[]> {
  const item = await storedItem();
  const edited: string[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (name === "pk" || isCiphertext(value) || except.includes(name)) continue;
    if (value.N !== undefined) {
      // Epoch seconds for the TTL attribute, epoch milliseconds elsewhere: a day forward either way.
      const day = name === "ttl" ? DAY_MS / 1000 : DAY_MS;
      item[name] = { N: String(Number(value.N) + day) };
    } else if (value.S !== undefined) {
      item[name] = { S: `forged-${name}` };
    }
    edited.push(name);
  }
  await writeItem(item);
  return edited;
}

beforeAll(async () => {
  const [table, keyId] = await Promise.all([createTokenTable(), createKey()]);
  tableName = table;
  cipher = new EnvelopeCipher(new KmsDataKeys(kms, keyId));
});

beforeEach(async () => {
  logger = new MemoryLogger();
  await removeItem();
});

describe("DynamoDbTokenStore integrity: an item edited without the KMS key is a miss", () => {
  it("never serves an expired item whose plaintext attributes were all edited, and the next put replaces it", async () => {
    const store = newStore();
    await put(store, token("expired-token", NOW - 2 * HOUR_MS, HOUR_MS, "Narrow"));

    const edited = await editEveryPlaintextAttribute();
    expect(edited.length).toBeGreaterThanOrEqual(3);

    expect(await tokenOf(newStore())).toBeUndefined();
    expect(await tokenOf(store)).toBeUndefined();

    const fresh = token("fresh-token", NOW, HOUR_MS);
    await put(store, fresh);
    expect(await tokenOf(newStore())).toEqual(fresh);
  });

  it("never serves an expired item edited to expire tomorrow with another scope, and the next put replaces it", async () => {
    const store = newStore();
    await put(store, token("expired-token", NOW - 2 * HOUR_MS, HOUR_MS, "Narrow"));
    // The identity left alone: only lifetimes (and a scope, where one is readable) move.
    await editEveryPlaintextAttribute(["cacheKey"]);

    expect(await tokenOf(newStore())).toBeUndefined();
    expect(await tokenOf(store)).toBeUndefined();

    const fresh = token("fresh-token", NOW, HOUR_MS);
    await put(store, fresh);
    expect(await tokenOf(newStore())).toEqual(fresh);
  });

  it("never serves a valid item whose plaintext attributes were edited, and the next put replaces it", async () => {
    const store = newStore();
    await put(store, token("valid-token", NOW, HOUR_MS, "Narrow"));
    await editEveryPlaintextAttribute();

    expect(await tokenOf(store)).toBeUndefined();

    const fresh = token("fresh-token", NOW + 1000, HOUR_MS);
    await put(store, fresh);
    expect(await tokenOf(newStore())).toEqual(fresh);
  });

  it("treats an item whose ciphertext does not open as a miss, and replaces it despite a far-future expiry", async () => {
    const store = newStore();
    await put(store, token("real-token", NOW, HOUR_MS));
    const item = await storedItem();
    const forged: Record<string, AttributeValue> = {};
    for (const [name, value] of Object.entries(item)) {
      if (isCiphertext(value)) forged[name] = { S: `${value.S?.slice(0, -4)}AAAA` };
      else if (name === "pk" || value.N === undefined) forged[name] = value;
      else forged[name] = { N: String(Number(value.N) + 1000 * DAY_MS) };
    }
    await writeItem(forged);

    expect(await tokenOf(store)).toBeUndefined();
    const fresh = token("fresh-token", NOW + 1000, HOUR_MS);
    await put(store, fresh);

    expect(await tokenOf(newStore())).toEqual(fresh);
    expect(logger.lines.map((line) => line.message)).toContain(
      "token item does not decrypt; treating as a miss",
    );
  });

  it("replaces an item that holds no sealed record at all, even unread, whatever its expiry says", async () => {
    await writeItem({
      pk: { S: tokenItemKey(PROFILE, NO_SCOPES) },
      cacheKey: { S: "identity-1" },
      issuedAt: { N: String(NOW + 1000 * DAY_MS) },
      expiresAt: { N: String(NOW + 1001 * DAY_MS) },
      ttl: { N: String(Math.floor((NOW + 1001 * DAY_MS) / 1000)) },
    });
    const store = newStore();
    const fresh = token("fresh-token", NOW, HOUR_MS);

    await put(store, fresh);

    expect(await tokenOf(store)).toEqual(fresh);
  });

  it("keeps the scope and the token only inside the ciphertext", async () => {
    await put(newStore(), token("a-token", NOW, HOUR_MS, "VerySpecificScope"));

    const item = await storedItem();
    expect(JSON.stringify(item)).not.toContain("VerySpecificScope");
    expect(JSON.stringify(item)).not.toContain("a-token");
  });
});

describe("DynamoDbTokenStore ordering (a slow writer never replaces a fresher token)", () => {
  it("keeps a newer token of the same identity when an older one is put after it", async () => {
    const store = newStore();
    const newer = token("newer", NOW, 2 * HOUR_MS);
    await put(store, newer);
    await put(store, token("older", NOW - HOUR_MS, HOUR_MS));

    expect(await tokenOf(store)).toEqual(newer);
  });

  it("replaces a token of another identity issued before our credentials were read, whatever its expiry", async () => {
    const store = newStore();
    await put(store, token("old-identity", NOW, 10 * HOUR_MS));
    const other = { ...token("new-identity", NOW + 1, HOUR_MS), cacheKey: "identity-2" };
    await put(store, other);

    expect(await tokenOf(store)).toEqual(other);
  });

  it("replaces a forged item at the first write after a read saw it, even when it refused a blind write", async () => {
    const store = newStore();
    await put(store, token("real-token", NOW - 2 * HOUR_MS, HOUR_MS));
    const item = await storedItem();
    const farFuture = NOW + 1000 * DAY_MS;
    await writeItem({ ...item, issuedAt: { N: String(farFuture) } });
    const fresh = token("fresh-token", NOW, HOUR_MS);

    await put(store, fresh); // refused: the forged issue-time hint looks newer
    expect(await tokenOf(store)).toBeUndefined();
    await put(store, fresh);

    expect(await tokenOf(newStore())).toEqual(fresh);
  });
});

describe("DynamoDbTokenStore DELETE record (when the last DELETE was made)", () => {
  it("replaces the token with the DELETE's time and a TTL a day later, and reads it back without a warning", async () => {
    const store = newStore();
    await put(store, token("dropped", NOW, HOUR_MS));

    expect((await store.delete(PROFILE, NO_SCOPES, NOW + 1000))?.accessToken).toBe("dropped");

    const item = await storedItem();
    expect(item.deletedAt).toEqual({ N: String(NOW + 1000) });
    expect(Number(item.ttl?.N)).toBe(Math.ceil((NOW + 1000) / 1000) + 24 * 3600);
    expect(await store.get(PROFILE, NO_SCOPES)).toEqual({ deletedAt: NOW + 1000 });
    expect(logger.lines).toEqual([]);
  });

  it("does not block writes when its time was edited into something that is not a number", async () => {
    const store = newStore();
    await store.delete(PROFILE, NO_SCOPES, NOW);
    await writeItem({ ...(await storedItem()), deletedAt: { S: "forged" } });
    const fresh = token("fresh-token", NOW - 1000, HOUR_MS);

    expect(await put(store, fresh)).toBe("stored");
    expect(await tokenOf(store)).toEqual(fresh);
  });

  it("does not block writes when an edit added it to a token item", async () => {
    const store = newStore();
    await put(store, token("real-token", NOW - HOUR_MS, HOUR_MS));
    await writeItem({ ...(await storedItem()), deletedAt: { N: String(NOW + 1000 * DAY_MS) } });
    const fresh = token("fresh-token", NOW, HOUR_MS);

    expect(await put(store, fresh)).toBe("stored");
    expect(await tokenOf(store)).toEqual(fresh);
  });

  it("does not block writes when an edit added a plausible time to a token item", async () => {
    // No DELETE ever writes a token and a time together, so the pair is an edit. Reads serve the
    // token; a write that weighed the edited time would be refused until the writer re-reads its
    // credentials (minutes), and every request meanwhile would ask CyberArk.
    const store = newStore();
    await put(store, token("real-token", NOW - HOUR_MS, HOUR_MS));
    await writeItem({ ...(await storedItem()), deletedAt: { N: String(NOW) } });
    const renewed = token("renewed", NOW, HOUR_MS);

    expect((await store.get(PROFILE, NO_SCOPES)).token?.accessToken).toBe("real-token");
    expect(await put(store, renewed, NOW - 60_000)).toBe("stored");
    expect(await tokenOf(store)).toEqual(renewed);
  });
});

describe("DynamoDbTokenStore lease (a forged lease never stops refreshes)", () => {
  const leaseKey = { pk: { S: leaseItemKey(PROFILE, NO_SCOPES) } };
  const LEASE = 17_500;

  it("takes over a lease whose leaseUntil is not a number", async () => {
    await writeItem({ ...leaseKey, owner: { S: "attacker" }, leaseUntil: { S: "forever" } });

    expect(await newStore().acquireLease(PROFILE, NO_SCOPES, "me", NOW, NOW + LEASE)).toBe(true);
  });

  it("takes over a lease that lasts longer than any lease taken now could", async () => {
    const farFuture = String(NOW + 365 * DAY_MS);
    await writeItem({ ...leaseKey, owner: { S: "attacker" }, leaseUntil: { N: farFuture } });

    expect(await newStore().acquireLease(PROFILE, NO_SCOPES, "me", NOW, NOW + LEASE)).toBe(true);
  });

  it("still refuses a lease another instance took a moment ago", async () => {
    await newStore().acquireLease(PROFILE, NO_SCOPES, "other", NOW - 1_000, NOW - 1_000 + LEASE);

    expect(await newStore().acquireLease(PROFILE, NO_SCOPES, "me", NOW, NOW + LEASE)).toBe(false);
  });
});

describe("DynamoDbTokenStore scope sets (one item per set, one per profile)", () => {
  const WRITE = scopeSetOf(["ReadUserProfile", "WriteReports"]);
  // A profile of their own: the DELETE record below must not reach the other tests' items.
  const P = "scoped";
  const raw = async (key: string) =>
    (
      await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: { pk: { S: key } }, ConsistentRead: true }),
      )
    ).Item;

  it("keeps a set's token and lease under keys of a fixed length, whatever the ask", async () => {
    const long = scopeSetOf(Array.from({ length: 16 }, (_, n) => `Scope${n}${"x".repeat(100)}`));
    const store = newStore();
    await store.put(P, long, token("long-ask", NOW, HOUR_MS), { credentialsReadAt: NOW });
    await store.acquireLease(P, long, "me", NOW, NOW + 15_000);

    expect(tokenItemKey(P, long)).toMatch(/^token#scoped#[A-Za-z0-9_-]{43}$/);
    expect(leaseItemKey(P, long)).toMatch(/^lease#scoped#[A-Za-z0-9_-]{43}$/);
    expect(await raw(tokenItemKey(P, long))).toBeDefined();
    expect(await raw(leaseItemKey(P, long))).toBeDefined();
    expect((await store.get(P, long)).token?.accessToken).toBe("long-ask");
  });

  it("records a profile DELETE on the profile's own item, which no later read of any set gets past", async () => {
    const store = newStore();
    // A set no instance placed: the DELETE cannot list it, and still drops it.
    await store.put(P, WRITE, token("unplaced", NOW, HOUR_MS), { credentialsReadAt: NOW });

    expect(await store.deleteProfile(P, NOW + 1000, [])).toEqual([]);

    expect((await raw(profileItemKey(P)))?.deletedAt).toEqual({ N: String(NOW + 1000) });
    expect((await raw(tokenItemKey(P, WRITE)))?.sealedRecord).toBeDefined(); // still there
    expect((await newStore().get(P, WRITE)).token).toBeUndefined(); // but never served
  });

  it("gives DELETEs made at once, in the same millisecond, each its own record", async () => {
    const name = "deleted-at-once";
    await Promise.all(
      [newStore(), newStore(), newStore()].map((store) =>
        store.deleteProfile(name, NOW + 1000, [WRITE]),
      ),
    );

    // Three rounds of the conditional write: each DELETE recorded one millisecond after the last.
    expect((await raw(profileItemKey(name)))?.deletedAt).toEqual({ N: String(NOW + 1002) });
  });
});
