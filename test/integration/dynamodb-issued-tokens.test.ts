/**
 * The ledger of issued tokens against DynamoDB (moto) with KMS data keys: sealed entries that keep
 * the record's incarnation and epoch their writer read and an arrival-based expiry, no lost entry
 * under concurrent writers, pruning of expired entries, the bound and what a full ledger answers,
 * forgetting.
 */
import { type AttributeValue, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbIssuedTokens } from "../../functions/adapters/dynamodb-issued-tokens.js";
import {
  ISSUED_TOKENS_KEPT,
  issuedItemKey,
} from "../../functions/adapters/issued-ledger-updates.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { NO_SCOPES, type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { MAX_LIFETIME_SECONDS } from "../../functions/core/token.js";
import { startEmbeddedDynamoDb } from "../../functions/local/embedded-dynamodb.js";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";
import { createKey, createTokenTable, dynamodb, kms, uniqueName } from "../support/aws.js";
import { LinesLogger as MemoryLogger } from "../support/profile-store-fixtures.js";

const HOUR_MS = 3_600_000;
const NOW = Date.now();

let tableName: string;
let cipher: EnvelopeCipher;
let logger: MemoryLogger;
let profile: string;

/** A function instance's ledger: its own view of the items, the shared table and key. */
function newLedger(): DynamoDbIssuedTokens {
  return new DynamoDbIssuedTokens(dynamodb, tableName, cipher, logger);
}

function token(name: string, expiresAt = NOW + HOUR_MS): CachedToken {
  return { cacheKey: "identity-1", accessToken: name, issuedAt: NOW, expiresAt };
}

async function rawItem(name = profile): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: issuedItemKey(name) } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

async function entryCount(): Promise<number> {
  return Object.keys((await rawItem())?.tokens?.M ?? {}).length;
}

const STAMP = { incarnation: "inc-1", epoch: 0 } as const;

/** Remembers `t`, asked for `asked`, as obtained under `stamp`, until `expiresAt` (its own expiry by default). */
function remember(
  ledger: DynamoDbIssuedTokens | undefined,
  name: string,
  asked: ScopeSet,
  t: CachedToken,
  now: number,
  stamp: { incarnation: string; epoch: number; expiresAt?: number } = STAMP,
) {
  if (!ledger) throw new Error("no ledger");
  const { expiresAt = t.expiresAt, ...life } = stamp;
  return ledger.remember(name, { ...life, asked, token: t, expiresAt }, now);
}

/** The entries a DELETE at `now` would find alive (by their remembered expiry). */
async function live(ledger: DynamoDbIssuedTokens | undefined, name: string, now: number) {
  if (!ledger) throw new Error("no ledger");
  return (await ledger.live(name, now)).entries.filter((entry) => entry.expiresAt > now);
}

const names = (tokens: readonly { token: CachedToken }[]) =>
  tokens.map((entry) => entry.token.accessToken).sort();

beforeAll(async () => {
  tableName = await createTokenTable();
  cipher = new EnvelopeCipher(new KmsDataKeys(kms, await createKey()));
});

beforeEach(() => {
  logger = new MemoryLogger();
  profile = uniqueName("reports-app");
});

describe("DynamoDbIssuedTokens", () => {
  it("remembers tokens sealed: the item holds no part of a token, and reads give them back with the asked set", async () => {
    const ledger = newLedger();
    const asked: ScopeSet = scopeSetOf(["Write", "Read"]);
    await remember(ledger, profile, asked, { ...token("secret-token-a"), scope: "Read" }, NOW);
    await remember(ledger, profile, NO_SCOPES, token("secret-token-b"), NOW);

    const found = await live(newLedger(), profile, NOW);

    expect(names(found)).toEqual(["secret-token-a", "secret-token-b"]);
    expect(found.find((entry) => entry.token.accessToken === "secret-token-a")).toMatchObject({
      asked: "Read Write",
      token: { scope: "Read", cacheKey: "identity-1", issuedAt: NOW, expiresAt: NOW + HOUR_MS },
    });
    const text = JSON.stringify(await rawItem());
    expect(text).not.toContain("secret-token");
    expect(text).not.toContain("identity-1");
  });

  it("answers every entry, expired ones included (the DELETE decides and counts), and prunes expired entries on the next write of an instance that saw them", async () => {
    const ledger = newLedger();
    await remember(ledger, profile, NO_SCOPES, token("short", NOW + 60_000), NOW);
    await remember(ledger, profile, NO_SCOPES, token("long"), NOW);
    const later = NOW + 120_000;

    const all = await newLedger().live(profile, later);
    expect({ names: names(all.entries), unopened: all.unopened }).toEqual({
      names: ["long", "short"],
      unopened: 0,
    });
    expect(names(await live(newLedger(), profile, later))).toEqual(["long"]);
    expect(await entryCount()).toBe(2);
    await remember(ledger, profile, NO_SCOPES, token("next"), later);

    expect(await entryCount()).toBe(2);
    expect(names(await live(newLedger(), profile, later))).toEqual(["long", "next"]);
  });

  it(`holds at most ${ISSUED_TOKENS_KEPT} entries: past that it answers full, and keeps what it held`, async () => {
    const ledger = newLedger();
    for (let i = 0; i < ISSUED_TOKENS_KEPT; i += 1) {
      expect(await remember(ledger, profile, NO_SCOPES, token(`t${i}`), NOW)).toBe("remembered");
    }

    expect(await remember(newLedger(), profile, NO_SCOPES, token("one-too-many"), NOW)).toBe(
      "full",
    );
    expect(await remember(ledger, profile, NO_SCOPES, token("still-too-many"), NOW)).toBe("full");
    expect(await entryCount()).toBe(ISSUED_TOKENS_KEPT);
    expect(names(await live(newLedger(), profile, NOW))).not.toContain("one-too-many");
  });

  it("makes room in a full ledger by pruning expired entries, even from an instance that never saw it", async () => {
    const ledger = newLedger();
    for (let i = 0; i < ISSUED_TOKENS_KEPT; i += 1) {
      const expiresAt = i < 3 ? NOW + 60_000 : NOW + HOUR_MS;
      await remember(ledger, profile, NO_SCOPES, token(`t${i}`, expiresAt), NOW);
    }
    const later = NOW + 120_000;

    expect(await remember(newLedger(), profile, NO_SCOPES, token("fits"), later)).toBe(
      "remembered",
    );
    expect(await entryCount()).toBe(ISSUED_TOKENS_KEPT - 2);
  });

  it("forgets the given entries, ignores ones already gone, and creates no item for an unknown profile", async () => {
    const ledger = newLedger();
    await remember(ledger, profile, NO_SCOPES, token("revoked"), NOW);
    await remember(ledger, profile, NO_SCOPES, token("kept"), NOW);
    const revoked = (await live(ledger, profile, NOW)).filter(
      (entry) => entry.token.accessToken === "revoked",
    );
    const ids = revoked.map((entry) => entry.id);

    await newLedger().forget(profile, ids, NOW);
    await newLedger().forget(profile, ids, NOW);
    await newLedger().forget("never-remembered", ["x"], NOW);

    expect(names(await live(ledger, profile, NOW))).toEqual(["kept"]);
    expect(await rawItem("never-remembered")).toBeUndefined();
  });

  it("keeps the incarnation and epoch its writer read, and an expiry counted from the answer's arrival that pruning and the ttl go by", async () => {
    const t = token("late-answer", NOW + 60_000);
    const arrivedBound = NOW + 90_000;
    const ledger = newLedger();
    const stamp = { incarnation: "inc-7", epoch: 3, expiresAt: arrivedBound };
    await remember(ledger, profile, NO_SCOPES, t, NOW, stamp);

    const between = NOW + 75_000; // the token's own expiry has passed; CyberArk may still honour it
    expect((await newLedger().live(profile, between)).entries).toEqual([
      expect.objectContaining({
        incarnation: "inc-7",
        epoch: 3,
        expiresAt: arrivedBound,
        token: t,
      }),
    ]);
    await remember(ledger, profile, NO_SCOPES, token("next"), between);
    expect(names(await live(newLedger(), profile, between))).toEqual(["late-answer", "next"]);
    await remember(ledger, profile, NO_SCOPES, token("after"), arrivedBound + 1);
    expect(names(await live(newLedger(), profile, arrivedBound + 1))).toEqual(["after", "next"]);
    expect(Number((await rawItem())?.ttl?.N) * 1000).toBeGreaterThanOrEqual(arrivedBound);
  });

  it("keeps the item until every token it may hold has expired (ttl a longest lifetime ahead)", async () => {
    await remember(newLedger(), profile, NO_SCOPES, token("t"), NOW);

    const ttl = Number((await rawItem())?.ttl?.N);

    expect(ttl * 1000).toBeGreaterThanOrEqual(NOW + MAX_LIFETIME_SECONDS * 1000);
  });

  it("skips, with a warning naming no token, an entry copied from another profile's ledger", async () => {
    const other = uniqueName("other-app");
    await remember(newLedger(), other, NO_SCOPES, token("elsewhere"), NOW);
    await remember(newLedger(), profile, NO_SCOPES, token("here"), NOW);
    const stolen = (await rawItem(other))?.tokens?.M ?? {};
    const item = (await rawItem()) ?? {};
    const tokens = { M: { ...item.tokens?.M, ...stolen } };
    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { ...item, tokens } }));

    expect(names(await live(newLedger(), profile, NOW))).toEqual(["here"]);
    expect(logger.lines).toEqual([
      expect.objectContaining({
        message: "token ledger entries do not open; skipped, and forgotten next",
        attributes: { profile, unopened: 1 },
      }),
    ]);
  });

  it("starts over a tokens attribute it did not write", async () => {
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: issuedItemKey(profile) }, tokens: { S: "edited" } },
      }),
    );

    expect(await remember(newLedger(), profile, NO_SCOPES, token("t"), NOW)).toBe("remembered");
    expect(names(await live(newLedger(), profile, NOW))).toEqual(["t"]);
  });
});

// moto_server handles requests on several threads without isolating updates of one item (a
// stress run loses an entry now and then though every write succeeded), so no-lost-entry is
// checked on the local server's embedded store, which applies each request whole, as DynamoDB does.
describe("DynamoDbIssuedTokens under concurrent writers", () => {
  it("loses no entry when several instances remember at once, the ledger's first write included", async () => {
    const store = await startEmbeddedDynamoDb();
    try {
      await ensureTokenTable(store.client, "issued-tokens", { enableTtl: false });
      const ledgers = [0, 1, 2].map(
        () => new DynamoDbIssuedTokens(store.client, "issued-tokens", cipher, logger),
      );
      for (const round of [1, 2, 3, 4, 5]) {
        const name = `${profile}-${round}`;
        const outcomes = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            remember(ledgers[i % 3], name, NO_SCOPES, token(`t${i}`), NOW),
          ),
        );

        expect(outcomes).toEqual(Array(30).fill("remembered"));
        expect(await live(ledgers[0], name, NOW)).toHaveLength(30);
      }
    } finally {
      await store.close();
    }
  });
});
