/**
 * The ledger of issued tokens holds against a table writer, call by call (aws-sdk-client-mock):
 * sealed entries moved to another id, profile or item do not open, junk never makes a read cost
 * more than the bound nor keeps the ledger full, odd shapes never throw, and an edited plaintext
 * hint never changes what an entry says.
 */
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
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
import { openIssuedEntry, sealIssuedEntry } from "../../functions/adapters/sealed-issued-token.js";
import { openToken, sealToken } from "../../functions/adapters/sealed-token-record.js";
import { type DataKeyProvider, EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { profileItemKey } from "../../functions/adapters/token-table.js";
import { NO_SCOPES } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { MemoryLogger } from "../support/fakes.js";

const dynamodb = mockClient(DynamoDBClient);
const NOW = 1_800_000_000_000;
const HOUR_MS = 3_600_000;
const KEY = issuedItemKey("reports-app");
const STAMP = { incarnation: "inc-1", epoch: 0 } as const;

/** A KMS stand-in that counts unwraps (each one a KMS Decrypt in the cloud). */
class CountingKeys implements DataKeyProvider {
  readonly key = Buffer.alloc(32, 7);
  unwraps = 0;
  async generate() {
    return { plaintext: this.key, wrapped: Buffer.from("good-key") };
  }
  async unwrap(wrapped: Uint8Array): Promise<Uint8Array> {
    this.unwraps += 1;
    if (Buffer.from(wrapped).toString() !== "good-key")
      throw new Error("InvalidCiphertextException");
    return this.key;
  }
}

let keys: CountingKeys;
let cipher: EnvelopeCipher;
let logger: MemoryLogger;
let ledger: DynamoDbIssuedTokens;

function token(name: string, expiresAt = NOW + HOUR_MS): CachedToken {
  return { cacheKey: "identity-1", accessToken: name, issuedAt: NOW, expiresAt };
}

async function entry(id: string, expiresAt = NOW + HOUR_MS, key = KEY): Promise<AttributeValue> {
  return sealIssuedEntry(cipher, key, id, {
    ...STAMP,
    asked: NO_SCOPES,
    token: token(`tok-${id}`, expiresAt),
    expiresAt,
  });
}

/** Remembers `t` as obtained under {@link STAMP}, until its own expiry. */
function remember(ledger: DynamoDbIssuedTokens, t: CachedToken) {
  const remembered = { ...STAMP, asked: NO_SCOPES, token: t, expiresAt: t.expiresAt };
  return ledger.remember("reports-app", remembered, NOW);
}

const updates = () =>
  dynamodb
    .commandCalls(UpdateItemCommand)
    .map((call) => call.args[0].input as UpdateItemCommandInput);

beforeEach(() => {
  dynamodb.reset();
  keys = new CountingKeys();
  cipher = new EnvelopeCipher(keys);
  logger = new MemoryLogger();
  ledger = new DynamoDbIssuedTokens(new DynamoDBClient({}), "tokens", cipher, logger);
});

describe("attack: moving sealed entries", () => {
  it("an entry moved to another id, or to another profile's ledger, does not open", async () => {
    const sealed = await entry("id-a");
    await expect(openIssuedEntry(cipher, KEY, "id-a", sealed)).resolves.toMatchObject({
      token: { accessToken: "tok-id-a" },
    });
    await expect(openIssuedEntry(cipher, KEY, "id-b", sealed)).rejects.toThrow();
    await expect(openIssuedEntry(cipher, issuedItemKey("other"), "id-a", sealed)).rejects.toThrow();
  });

  it("a cached token's sealed record placed in the ledger does not open, nor the reverse", async () => {
    const itemKey = profileItemKey("reports-app");
    const cached = await sealToken(cipher, itemKey, token("cached"), { ...STAMP, tag: "-" });
    const moved: AttributeValue = {
      M: { sealed: { S: cached }, expiresAt: { N: String(NOW + HOUR_MS) } },
    };
    await expect(openIssuedEntry(cipher, KEY, "x", moved)).rejects.toThrow();
    const asEntry = (await entry("x")).M?.sealed?.S ?? "";
    await expect(openToken(cipher, itemKey, "-", asEntry)).rejects.toThrow();

    dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: KEY }, tokens: { M: { x: moved } } } });
    expect(await ledger.live("reports-app", NOW)).toEqual({ entries: [], unopened: 1 });
  });

  it("the plaintext beside a sealed entry is only its expiry: no token, cache key or scope", async () => {
    const sealed = await sealIssuedEntry(cipher, KEY, "id-a", {
      ...STAMP,
      asked: "Read Write" as never,
      token: { ...token("eyJ-the-secret-token"), scope: "Read" },
      expiresAt: NOW + HOUR_MS,
    });
    expect(Object.keys(sealed.M ?? {}).sort()).toEqual(["expiresAt", "sealed"]);
    const text = JSON.stringify(sealed);
    for (const leak of ["eyJ-the-secret-token", "identity-1", "Read", "Write"]) {
      expect(text).not.toContain(leak);
    }
  });
});

describe("attack: a table writer fills the ledger item", () => {
  it("a DELETE's ledger read opens at most the bound's worth of entries (one KMS Decrypt each for distinct data keys)", async () => {
    // 3000 small junk entries, each with its own "wrapped data key": well under 400 KB.
    const junk: Record<string, AttributeValue> = {};
    for (let i = 0; i < 3000; i += 1) {
      const wrapped = Buffer.from(`k${i}`).toString("base64url");
      junk[`j${i}`] = {
        M: {
          sealed: { S: `v1.${wrapped}.AAAAAAAAAAAAAAAA.${"A".repeat(24)}` },
          expiresAt: { N: String(NOW + HOUR_MS) },
        },
      };
    }
    junk.real = await entry("real");
    dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: KEY }, tokens: { M: junk } } });

    const read = await ledger.live("reports-app", NOW);

    expect(read.entries.map((remembered) => remembered.token.accessToken)).toEqual(["tok-real"]);
    // The timing budget counts one round of KMS for the ledger read; the ledger never legitimately
    // holds more than ISSUED_TOKENS_KEPT entries, so more unwraps than that are the attacker's.
    expect(keys.unwraps).toBeLessThanOrEqual(ISSUED_TOKENS_KEPT);
  });

  it("entries that do not open are forgotten by a DELETE, so junk cannot keep the ledger full forever", async () => {
    const junk: Record<string, AttributeValue> = {};
    for (let i = 0; i < ISSUED_TOKENS_KEPT; i += 1) {
      junk[`j${i}`] = { M: { sealed: { S: "v1.junk" }, expiresAt: { N: "9007199254740991" } } };
    }
    dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: KEY }, tokens: { M: junk } } });
    dynamodb.on(UpdateItemCommand).resolves({});

    // A DELETE: read the live tokens, then forget (nothing revoked, so only what the store prunes).
    await ledger.live("reports-app", NOW);
    await ledger.forget("reports-app", ["anything"], NOW);

    const removed = updates().flatMap((update) =>
      Object.values(update.ExpressionAttributeNames ?? {}),
    );
    expect(removed.filter((name) => name.startsWith("j")).length).toBeGreaterThan(0);
  });

  it("a ledger full of junk never stops a remember from answering (it answers full, bounded)", async () => {
    const junk: Record<string, AttributeValue> = {};
    for (let i = 0; i < 5000; i += 1)
      junk[`j${i}`] = { M: { expiresAt: { N: String(NOW + HOUR_MS) } } };
    const { ConditionalCheckFailedException } = await import("@aws-sdk/client-dynamodb");
    dynamodb.on(UpdateItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: "x",
        $metadata: {},
        Item: { tokens: { M: junk } },
      }),
    );
    expect(await remember(ledger, token("t"))).toBe("full");
    expect(updates().length).toBeLessThanOrEqual(3);
  });

  it("odd shapes in the item (non-map entries, NaN/huge expiries, a list) never throw from live()", async () => {
    const shapes: Record<string, AttributeValue>[] = [
      { tokens: { L: [{ S: "x" }] } },
      { tokens: { S: "x" } },
      {
        tokens: {
          M: { a: { S: "x" }, b: { NULL: true }, c: { M: { expiresAt: { N: "1e400" } } } },
        },
      },
      { tokens: { M: { __proto__: { M: { sealed: { S: "v1.a.b.c" } } } } } },
    ];
    for (const item of shapes) {
      dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: KEY }, ...item } });
      await expect(ledger.live("reports-app", NOW)).resolves.toMatchObject({ entries: [] });
    }
  });
});

describe("attack: a table writer edits an entry's plaintext expiry hint", () => {
  it("(documents) a live entry whose hint is moved into the past is pruned by the next remember, unopened", async () => {
    const live = await entry("victim", NOW + HOUR_MS);
    const edited: AttributeValue = { M: { ...live.M, expiresAt: { N: String(NOW - 1) } } };
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: { tokens: { M: { victim: edited } } } });
    await remember(ledger, token("first"));
    await remember(ledger, token("second"));

    // The hint alone decides: the live token's entry is removed. (A table writer can remove the
    // entry outright too, so this grants nothing new; noted, not a defect.)
    expect(updates()[1]?.UpdateExpression).toContain("REMOVE");
    expect(updates()[1]?.ExpressionAttributeNames?.["#x0"]).toBe("victim");
  });

  it("a hint moved into the future does not change the sealed expiry the DELETE judges by", async () => {
    const expired = await entry("old", NOW - 1);
    const edited: AttributeValue = {
      M: { ...expired.M, expiresAt: { N: String(NOW + 10 * HOUR_MS) } },
    };
    dynamodb
      .on(GetItemCommand)
      .resolves({ Item: { pk: { S: KEY }, tokens: { M: { old: edited } } } });
    const { entries } = await ledger.live("reports-app", NOW);
    expect(entries.map((remembered) => remembered.expiresAt)).toEqual([NOW - 1]);
  });
});
