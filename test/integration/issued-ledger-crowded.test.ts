/**
 * The ledger of issued tokens keeps its bound and loses nothing under a crowd, on the local
 * server's embedded DynamoDB-compatible store: many instances, warm and cold, remembering at once
 * into a ledger crowded with expired entries (no entry lost, no false "full", the bound kept), a
 * ledger full of live tokens, and a forget racing a remember.
 */
import { type AttributeValue, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbIssuedTokens } from "../../functions/adapters/dynamodb-issued-tokens.js";
import {
  ISSUED_TOKENS_KEPT,
  issuedItemKey,
} from "../../functions/adapters/issued-ledger-updates.js";
import { EnvelopeCipher, ProcessKeyProvider } from "../../functions/adapters/token-cipher.js";
import { NO_SCOPES } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import {
  type EmbeddedDynamoDb,
  startEmbeddedDynamoDb,
} from "../../functions/local/embedded-dynamodb.js";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";
import { LinesLogger as MemoryLogger } from "../support/profile-store-fixtures.js";

const HOUR_MS = 3_600_000;
const NOW = Date.now();
const TABLE = "attack-issued";
const cipher = new EnvelopeCipher(new ProcessKeyProvider());
let store: EmbeddedDynamoDb;
let logger: MemoryLogger;
let counter = 0;
let profile: string;

const newLedger = () => new DynamoDbIssuedTokens(store.client, TABLE, cipher, logger);
const token = (name: string, expiresAt = NOW + HOUR_MS): CachedToken => ({
  cacheKey: "identity-1",
  accessToken: name,
  issuedAt: NOW - 2 * HOUR_MS,
  expiresAt,
});

/** Remembers `t` (as obtained under epoch 0 of one incarnation) until its expiry. */
function remember(ledger: DynamoDbIssuedTokens, name: string, t: CachedToken, now: number) {
  const entry = {
    incarnation: "inc-1",
    epoch: 0,
    asked: NO_SCOPES,
    token: t,
    expiresAt: t.expiresAt,
  };
  return ledger.remember(name, entry, now);
}

/** The entries alive at `now` (by their remembered expiry). */
async function liveEntries(ledger: DynamoDbIssuedTokens, name: string, now: number) {
  return (await ledger.live(name, now)).entries.filter((entry) => entry.expiresAt > now);
}

async function entries(): Promise<Record<string, AttributeValue>> {
  const { Item } = await store.client.send(
    new GetItemCommand({
      TableName: TABLE,
      Key: { pk: { S: issuedItemKey(profile) } },
      ConsistentRead: true,
    }),
  );
  return Item?.tokens?.M ?? {};
}

beforeAll(async () => {
  store = await startEmbeddedDynamoDb();
  await ensureTokenTable(store.client, TABLE, { enableTtl: false });
});
afterAll(async () => {
  await store.close();
});
beforeEach(() => {
  logger = new MemoryLogger();
  counter += 1;
  profile = `attack-${counter}`;
});

describe("attack: concurrent instances on a crowded ledger", () => {
  it("20 instances (10 that saw 40 expired entries, 10 cold) remember at once: every one remembered, the bound kept", async () => {
    const filler = newLedger();
    for (let i = 0; i < 40; i += 1) {
      expect(
        await remember(filler, profile, token(`old-${i}`, NOW - HOUR_MS), NOW - 2 * HOUR_MS),
      ).toBe("remembered");
    }
    const warm = Array.from({ length: 10 }, newLedger);
    for (const ledger of warm) await liveEntries(ledger, profile, NOW);
    const cold = Array.from({ length: 10 }, newLedger);

    const outcomes = await Promise.all(
      [...warm, ...cold].map((ledger, i) => remember(ledger, profile, token(`new-${i}`), NOW)),
    );

    expect(outcomes).toEqual(Array(20).fill("remembered"));
    const live = await liveEntries(newLedger(), profile, NOW);
    expect(live.map((entry) => entry.token.accessToken).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `new-${i}`).sort(),
    );
    expect(Object.keys(await entries()).length).toBeLessThanOrEqual(ISSUED_TOKENS_KEPT);
  });

  it("40 warm instances that all saw the same 49 expired entries remember at once: no false full", async () => {
    const filler = newLedger();
    for (let i = 0; i < 49; i += 1) {
      await remember(filler, profile, token(`old-${i}`, NOW - HOUR_MS), NOW - 2 * HOUR_MS);
    }
    const warm = Array.from({ length: 40 }, newLedger);
    for (const ledger of warm) await liveEntries(ledger, profile, NOW);

    const outcomes = await Promise.all(
      warm.map((ledger, i) => remember(ledger, profile, token(`new-${i}`), NOW)),
    );

    expect(outcomes.filter((outcome) => outcome === "full")).toEqual([]);
    expect((await liveEntries(newLedger(), profile, NOW)).length).toBe(40);
    expect(Object.keys(await entries()).length).toBeLessThanOrEqual(ISSUED_TOKENS_KEPT);
  });

  it("five rounds of 12 instances, each round's tokens outliving the last: nothing lost, no false full", async () => {
    const ledgers = Array.from({ length: 12 }, newLedger);
    for (let round = 0; round < 5; round += 1) {
      const at = NOW + round * HOUR_MS;
      const outcomes = await Promise.all(
        ledgers.map((ledger, i) =>
          remember(ledger, profile, token(`r${round}-${i}`, at + HOUR_MS / 2), at),
        ),
      );
      expect(outcomes, `round ${round}`).toEqual(Array(12).fill("remembered"));
      expect((await liveEntries(newLedger(), profile, at)).length, `round ${round}`).toBe(12);
      expect(Object.keys(await entries()).length).toBeLessThanOrEqual(ISSUED_TOKENS_KEPT);
    }
  });

  it("a ledger of 50 live tokens answers full to every instance, and never grows past the bound", async () => {
    const filler = newLedger();
    for (let i = 0; i < ISSUED_TOKENS_KEPT; i += 1) {
      await remember(filler, profile, token(`live-${i}`), NOW);
    }
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => remember(newLedger(), profile, token(`extra-${i}`), NOW)),
    );
    expect(outcomes).toEqual(Array(8).fill("full"));
    expect(Object.keys(await entries())).toHaveLength(ISSUED_TOKENS_KEPT);
  });

  it("a forget racing remembers removes only the ids it names", async () => {
    const a = newLedger();
    await remember(a, profile, token("revoke-me"), NOW);
    const [victim] = await liveEntries(a, profile, NOW);
    const racing = Array.from({ length: 10 }, (_, i) =>
      remember(newLedger(), profile, token(`keep-${i}`), NOW),
    );
    await Promise.all([a.forget(profile, [victim?.id ?? ""], NOW), ...racing]);

    const live = await liveEntries(newLedger(), profile, NOW);
    expect(live.map((entry) => entry.token.accessToken).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `keep-${i}`).sort(),
    );
  });
});
