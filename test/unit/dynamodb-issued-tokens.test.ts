/**
 * The DynamoDB ledger of issued tokens, call by call (aws-sdk-client-mock): what each write sends,
 * and what it makes of each answer.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoDbIssuedTokens } from "../../functions/adapters/dynamodb-issued-tokens.js";
import {
  ISSUED_TOKENS_KEPT,
  issuedItemKey,
} from "../../functions/adapters/issued-ledger-updates.js";
import { sealIssuedEntry } from "../../functions/adapters/sealed-issued-token.js";
import { EnvelopeCipher, ProcessKeyProvider } from "../../functions/adapters/token-cipher.js";
import { NO_SCOPES } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { MemoryLogger } from "../support/fakes.js";

const STAMP = { incarnation: "inc-1", epoch: 0 } as const;

const dynamodb = mockClient(DynamoDBClient);
const NOW = 1_800_000_000_000;
const HOUR_MS = 3_600_000;
const KEY = issuedItemKey("reports-app");
const cipher = new EnvelopeCipher(new ProcessKeyProvider());
let logger: MemoryLogger;
let ledger: DynamoDbIssuedTokens;

function token(name: string, expiresAt = NOW + HOUR_MS): CachedToken {
  return { cacheKey: "identity-1", accessToken: name, issuedAt: NOW, expiresAt };
}

async function entry(id: string, expiresAt: number): Promise<AttributeValue> {
  return sealIssuedEntry(cipher, KEY, id, {
    ...STAMP,
    asked: NO_SCOPES,
    token: token(id, expiresAt),
    expiresAt,
  });
}

/** Remembers `t` as obtained under {@link STAMP}, until its own expiry. */
function remember(ledger: DynamoDbIssuedTokens, t: CachedToken) {
  return ledger.remember(
    "reports-app",
    { ...STAMP, asked: NO_SCOPES, token: t, expiresAt: t.expiresAt },
    NOW,
  );
}

function refusal(item?: Record<string, AttributeValue>): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: "The conditional request failed",
    $metadata: {},
    ...(item ? { Item: item } : {}),
  });
}

const updates = () =>
  dynamodb
    .commandCalls(UpdateItemCommand)
    .map((call) => call.args[0].input as UpdateItemCommandInput);

beforeEach(() => {
  dynamodb.reset();
  logger = new MemoryLogger();
  ledger = new DynamoDbIssuedTokens(new DynamoDBClient({}), "tokens", cipher, logger);
});

describe("DynamoDbIssuedTokens.remember", () => {
  it("adds one sealed entry in one conditional update of the profile's item, bounded, and nothing of the token in plaintext", async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: {} });

    expect(await remember(ledger, token("secret-token"))).toBe("remembered");

    const [update] = updates();
    expect(update).toMatchObject({
      Key: { pk: { S: KEY } },
      UpdateExpression: "SET #t.#new = :entry, #ttl = :ttl",
      ConditionExpression: "attribute_type(#t, :map) AND (size(#t) < :kept)",
      ExpressionAttributeValues: { ":kept": { N: String(ISSUED_TOKENS_KEPT) } },
      ReturnValues: "ALL_NEW",
    });
    const added = update?.ExpressionAttributeValues?.[":entry"];
    expect(Object.keys(added?.M ?? {}).sort()).toEqual(["expiresAt", "sealed"]);
    expect(added?.M?.expiresAt).toEqual({ N: String(NOW + HOUR_MS) });
    expect(JSON.stringify(update)).not.toContain("secret-token");
    expect(JSON.stringify(update)).not.toContain("identity-1");
  });

  it("prunes, in the same update, the entries it last saw that have expired, only while they are still there", async () => {
    const expired = await entry("old", NOW - 1);
    const alive = await entry("alive", NOW + HOUR_MS);
    dynamodb.on(UpdateItemCommand).resolves({
      Attributes: { tokens: { M: { old: expired, alive } } },
    });
    await remember(ledger, token("first"));

    await remember(ledger, token("second"));

    const second = updates()[1];
    expect(second?.UpdateExpression).toBe("SET #t.#new = :entry, #ttl = :ttl REMOVE #t.#x0");
    expect(second?.ExpressionAttributeNames?.["#x0"]).toBe("old");
    expect(second?.ConditionExpression).toBe(
      "attribute_type(#t, :map) AND (size(#t) < :kept OR (size(#t) < :keptAfterPruning AND attribute_exists(#t.#x0)))",
    );
  });

  it("answers full, after one update, when the refusal shows a ledger of live entries at its bound", async () => {
    const live = Object.fromEntries(
      await Promise.all(
        Array.from({ length: ISSUED_TOKENS_KEPT }, async (_, i) => [
          `e${i}`,
          await entry(`e${i}`, NOW + HOUR_MS),
        ]),
      ),
    );
    dynamodb.on(UpdateItemCommand).rejects(refusal({ tokens: { M: live } }));

    expect(await remember(ledger, token("t"))).toBe("full");
    expect(updates()).toHaveLength(1);
  });

  it("goes again, rather than answering full, when a refusal shows a ledger with room (a store that raced)", async () => {
    const shown = { tokens: { M: { other: await entry("other", NOW + HOUR_MS) } } };
    dynamodb.on(UpdateItemCommand).rejectsOnce(refusal(shown)).resolves({});

    expect(await remember(ledger, token("t"))).toBe("remembered");
    expect(updates()).toHaveLength(2);
  });

  it("starts the ledger when the item has none", async () => {
    dynamodb.on(UpdateItemCommand).rejectsOnce(refusal()).resolves({});

    expect(await remember(ledger, token("t"))).toBe("remembered");
    expect(updates()[1]).toMatchObject({
      UpdateExpression: "SET #t = :tokens, #ttl = :ttl",
      ConditionExpression: "attribute_not_exists(#t) OR NOT attribute_type(#t, :map)",
    });
  });

  it("answers full when DynamoDB refuses the item's size", async () => {
    dynamodb.on(UpdateItemCommand).rejects(
      new DynamoDBServiceException({
        name: "ValidationException",
        $fault: "client",
        message: "Item size to update has exceeded the maximum allowed size",
        $metadata: {},
      }),
    );

    expect(await remember(ledger, token("t"))).toBe("full");
  });

  it("throws any other failure, for the core to log", async () => {
    dynamodb
      .on(UpdateItemCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }));

    await expect(remember(ledger, token("t"))).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
  });
});

describe("DynamoDbIssuedTokens.live and forget", () => {
  it("answers the entries with a consistent read, expired ones included (the DELETE judges them), and counts, with a warning, ones that do not open", async () => {
    const moved = await sealIssuedEntry(cipher, issuedItemKey("other"), "moved", {
      ...STAMP,
      asked: NO_SCOPES,
      token: token("moved"),
      expiresAt: NOW + HOUR_MS,
    });
    dynamodb.on(GetItemCommand).resolves({
      Item: {
        tokens: {
          M: {
            alive: await entry("alive", NOW + HOUR_MS),
            gone: await entry("gone", NOW - 1),
            moved,
          },
        },
      },
    });

    const read = await ledger.live("reports-app", NOW);

    expect(read.entries.map((remembered) => remembered.token.accessToken).sort()).toEqual([
      "alive",
      "gone",
    ]);
    expect(read.entries[0]).toMatchObject(STAMP);
    expect(read.unopened).toBe(1);
    expect(dynamodb.commandCalls(GetItemCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    expect(logger.lines).toEqual([
      expect.objectContaining({ attributes: { profile: "reports-app", unopened: 1 } }),
    ]);
  });

  it("forgets the entries that do not open, but keeps those KMS failed to open now", async () => {
    // The entry's data key is unknown to this instance, and its KMS is throttled: it may open on
    // another try, so it stays; junk never will, so it goes, with a count in the log.
    const throttled = new EnvelopeCipher({
      generate: () => Promise.reject(new Error("no new keys here")),
      unwrap: () =>
        Promise.reject(Object.assign(new Error("slow down"), { name: "ThrottlingException" })),
    });
    const reader = new DynamoDbIssuedTokens(new DynamoDBClient({}), "tokens", throttled, logger);
    const junk = { M: { sealed: { S: "v1.junk" }, expiresAt: { N: String(NOW + HOUR_MS) } } };
    dynamodb.on(GetItemCommand).resolves({
      Item: { tokens: { M: { real: await entry("real", NOW + HOUR_MS), junk } } },
    });
    dynamodb.on(UpdateItemCommand).resolves({});

    expect(await reader.live("reports-app", NOW)).toEqual({ entries: [], unopened: 2 });
    await reader.forget("reports-app", [], NOW);

    expect(updates().map((update) => update.ExpressionAttributeNames)).toEqual([
      { "#t": "tokens", "#x0": "junk" },
    ]);
    expect(logger.lines.map((line) => line.attributes)).toEqual([
      { profile: "reports-app", unopened: 1 },
      { profile: "reports-app", unreadable: 1 },
      { profile: "reports-app", removed: 1 },
    ]);
  });

  it("opens at most the bound's worth, newest by expiry hint first (a passed hint last), and logs entries beyond the bound as a count", async () => {
    const tokens: Record<string, AttributeValue> = {};
    for (let i = 0; i < ISSUED_TOKENS_KEPT + 3; i += 1) {
      tokens[`live${i}`] = await entry(`live${i}`, NOW + HOUR_MS + i);
    }
    tokens.old = { M: { sealed: { S: "v1.junk" }, expiresAt: { N: String(NOW - 1) } } };
    dynamodb.on(GetItemCommand).resolves({ Item: { tokens: { M: tokens } } });

    const read = await ledger.live("reports-app", NOW);

    // The newest by hint: "old" and the three oldest are beyond the bound; "old" is never opened
    // (it would not open, and would be logged as such).
    expect(read.entries).toHaveLength(ISSUED_TOKENS_KEPT);
    expect(read.entries.map((remembered) => remembered.id)).not.toContain("live0");
    expect(read.unopened).toBe(4);
    expect(logger.lines.map((line) => line.attributes)).toEqual([
      { profile: "reports-app", skipped: 4 },
    ]);
  });

  it("forgets the given entries and the expired ones it saw, without ever creating an item", async () => {
    dynamodb.on(GetItemCommand).resolves({
      Item: { tokens: { M: { gone: await entry("gone", NOW - 1) } } },
    });
    dynamodb.on(UpdateItemCommand).rejects(refusal());
    await ledger.live("reports-app", NOW);

    await ledger.forget("reports-app", ["revoked"], NOW);

    expect(updates()[0]).toMatchObject({
      UpdateExpression: "REMOVE #t.#x0, #t.#x1",
      ExpressionAttributeNames: { "#x0": "revoked", "#x1": "gone" },
      ConditionExpression: "attribute_type(#t, :map)",
    });
  });
});
