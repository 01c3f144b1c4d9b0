/**
 * The table's admission rule is stated once, in `core/admission.ts`; the DynamoDB adapter writes it
 * as a condition expression. This property test holds the condition to the rule: over generated
 * stored items (tokens, forged and foreign records, DELETE records, edited times) and generated
 * writes, a conditional PutItem on moto succeeds exactly when `admits` says it may.
 *
 * A token is sealed with the profile's DELETE record its writer read, and the store serves it only
 * while `servableUnder` says so: the second property holds the adapter's reads to that rule over
 * generated profile items (none, a record, an edited one, a record-less item) and writers' reads.
 *
 * Those rules tell DELETEs apart by their records, so no two DELETEs may record the same value: the
 * third property holds the profile item's conditional write to `nextDeletionRecord` over generated
 * stored records and DELETE times, on moto and on the local server's embedded store (dynalite).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DynamoDbTokenStore } from "../../functions/adapters/dynamodb-token-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { recordDeletion } from "../../functions/adapters/profile-item.js";
import { HINTS, SEALED_RECORD } from "../../functions/adapters/sealed-token-record.js";
import {
  admissionCondition,
  DELETED_AT,
} from "../../functions/adapters/token-admission-condition.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import {
  profileItemKey,
  setTag,
  TOKEN_TABLE_SCHEMA,
} from "../../functions/adapters/token-table.js";
import {
  admits,
  nextDeletionRecord,
  type StoredView,
  servableUnder,
  type WriteBasis,
} from "../../functions/core/admission.js";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { startEmbeddedDynamoDb } from "../../functions/local/embedded-dynamodb.js";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";
import { createKey, createTokenTable, dynamodb, kms } from "../support/aws.js";
import { MemoryLogger } from "../support/fakes.js";

const T0 = Date.parse("2026-11-21T12:00:00Z");
// Times close together, so equal and neighbouring values (the rule's edges) come up often.
const time = fc.integer({ min: T0 - 3, max: T0 + 3 });
const identity = fc.constantFrom("identity-a", "identity-b");
const record = fc.constantFrom("sealed-1", "sealed-2");

/** A stored item in attributes, and the view the rule judges it by. */
interface Generated {
  readonly item: Record<string, AttributeValue> | undefined;
  readonly view: StoredView;
  readonly lastRefused: string | undefined;
}

const stored: fc.Arbitrary<Generated> = fc.oneof(
  fc.constant<Generated>({ item: undefined, view: { kind: "none" }, lastRefused: undefined }),
  fc
    .record({
      sealed: record,
      cacheKey: identity,
      issuedAt: fc.option(time, { nil: undefined }),
      refused: fc.option(record, { nil: undefined }),
      // An edited DELETE time beside a token record: the record decides.
      deletedAt: fc.option(time, { nil: undefined }),
    })
    .map(
      ({ sealed, cacheKey, issuedAt, refused, deletedAt }): Generated => ({
        item: {
          [SEALED_RECORD]: { S: sealed },
          [HINTS.cacheKey]: { S: cacheKey },
          ...(issuedAt === undefined ? {} : { [HINTS.issuedAt]: { N: String(issuedAt) } }),
          ...(deletedAt === undefined ? {} : { [DELETED_AT]: { N: String(deletedAt) } }),
        },
        view: { kind: "token", cacheKey, issuedAt, lastRefused: refused === sealed },
        lastRefused: refused,
      }),
    ),
  fc
    .oneof(
      fc.constant({ [SEALED_RECORD]: { N: "1" } }),
      fc.constant({ [SEALED_RECORD]: { N: "1" }, [DELETED_AT]: { N: String(T0) } }),
      fc.constant({ other: { S: "x" } }),
    )
    .map((item) => ({ item, view: { kind: "foreign" } as StoredView, lastRefused: undefined })),
  fc
    .oneof(
      time.map((t) => ({ attribute: { N: String(t) }, deletedAt: t as number | undefined })),
      fc.constant({ attribute: { S: "yesterday" }, deletedAt: undefined }),
    )
    .map(
      ({ attribute, deletedAt }): Generated => ({
        item: { [DELETED_AT]: attribute },
        view: { kind: "deletion", deletedAt },
        lastRefused: undefined,
      }),
    ),
);

const basis: fc.Arbitrary<WriteBasis> = fc
  .record({
    credentialsReadAt: time,
    deletionRead: fc.option(time, { nil: undefined }),
  })
  .map(({ deletionRead, ...rest }) =>
    deletionRead === undefined ? rest : { ...rest, deletionRead },
  );

describe("the DynamoDB admission condition on moto", () => {
  it("admits a write exactly when the core's rule admits it", async () => {
    const tableName = await createTokenTable();
    const { partitionKey } = TOKEN_TABLE_SCHEMA;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        stored,
        fc.record({ cacheKey: identity, issuedAt: time }),
        basis,
        async (generated, candidate, writeBasis) => {
          run += 1;
          const key = { [partitionKey]: { S: `token#p${run}` } };
          if (generated.item) {
            await dynamodb.send(
              new PutItemCommand({ TableName: tableName, Item: { ...key, ...generated.item } }),
            );
          }
          const condition = admissionCondition(candidate, writeBasis, generated.lastRefused);
          const written = await dynamodb
            .send(
              new PutItemCommand({
                TableName: tableName,
                Item: { ...key, [SEALED_RECORD]: { S: "new" } },
                ...condition,
              }),
            )
            .then(
              () => true,
              (error: unknown) => {
                if ((error as Error).name === "ConditionalCheckFailedException") return false;
                throw error;
              },
            );
          expect(written).toBe(admits(generated.view, candidate, writeBasis));
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});

/** A profile item in attributes, and the record the rule reads in it. */
const profileItem = fc.oneof(
  fc.constant({ item: undefined, record: undefined as number | undefined }),
  time.map((t) => ({ item: { deletedAt: { N: String(t) } }, record: t as number | undefined })),
  fc.constant({ item: { deletedAt: { S: "yesterday" } }, record: undefined }),
  fc.constant({ item: { rev: { S: "r" } }, record: undefined }),
);

describe("the DynamoDB store's reads on moto", () => {
  it("serves a set's token exactly when the core's rule says its stamp is the profile's record", async () => {
    const [tableName, keyId] = await Promise.all([createTokenTable(), createKey()]);
    const cipher = new EnvelopeCipher(new KmsDataKeys(kms, keyId));
    const store = new DynamoDbTokenStore(dynamodb, tableName, cipher, new MemoryLogger());
    const set = scopeSetOf(["ReadUserProfile", "WriteReports"]);
    const { partitionKey } = TOKEN_TABLE_SCHEMA;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(profileItem, fc.option(time, { nil: undefined }), async (profile, stamp) => {
        run += 1;
        const name = `p${run}`;
        const token = { cacheKey: "k", accessToken: "t", issuedAt: T0, expiresAt: T0 + 3_600_000 };
        const basis = {
          credentialsReadAt: T0,
          ...(stamp === undefined ? {} : { profileDeletionRead: stamp }),
        };
        expect(await store.put(name, set, token, basis)).toBe("stored");
        if (profile.item) {
          const key = { [partitionKey]: { S: profileItemKey(name) } };
          await dynamodb.send(
            new PutItemCommand({ TableName: tableName, Item: { ...key, ...profile.item } }),
          );
        }
        const served = (await store.get(name, set)).token !== undefined;
        expect(served).toBe(servableUnder(stamp, profile.record));
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

/** A stored DELETE record in attributes, and the record the rule reads in it. */
const storedRecord = fc.oneof(
  time.map((t) => ({
    attribute: { N: String(t) } as AttributeValue,
    record: t as number | undefined,
  })),
  fc.constant({ attribute: { S: "yesterday" } as AttributeValue, record: undefined }),
  fc.constant({ attribute: { N: String(T0 + 0.5) } as AttributeValue, record: undefined }),
  fc.constant({ attribute: { N: "1e20" } as AttributeValue, record: undefined }),
  fc.constant({
    attribute: { N: String(Number.MAX_SAFE_INTEGER) } as AttributeValue,
    record: Number.MAX_SAFE_INTEGER as number | undefined,
  }),
);
const placedTag = fc.constantFrom(setTag(scopeSetOf(["a"])), setTag(scopeSetOf(["b"])));
const profileItemBeforeDelete = fc.option(
  fc.record({
    deletedAt: fc.option(storedRecord, { nil: undefined }),
    live: fc.uniqueArray(placedTag, { maxLength: 2 }),
  }),
  { nil: undefined },
);

/** Holds `recordDeletion` on `client`'s table to `nextDeletionRecord`. */
async function deletionRecordsFollowTheRule(client: DynamoDBClient, tableName: string) {
  const { partitionKey } = TOKEN_TABLE_SCHEMA;
  let run = 0;
  await fc.assert(
    fc.asyncProperty(profileItemBeforeDelete, time, async (before, at) => {
      run += 1;
      const name = `d${run}`;
      const key = { [partitionKey]: { S: profileItemKey(name) } };
      if (before) {
        const live: Record<string, AttributeValue> = {};
        for (const tag of before.live) live[tag] = { N: String(T0 + 300_000) };
        const item = {
          ...key,
          live: { M: live },
          rev: { S: "r" },
          ...(before.deletedAt ? { deletedAt: before.deletedAt.attribute } : {}),
        };
        await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
      }
      const table = { client, tableName };
      const recorded = await recordDeletion(table, name, at);
      const expected = nextDeletionRecord(before?.deletedAt?.record, at);
      expect(recorded.record).toBe(expected);
      expect(recorded.placed.sort()).toEqual([...(before?.live ?? [])].sort());
      const { Item } = await client.send(
        new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
      );
      expect(Item?.deletedAt).toEqual({ N: String(expected) });
      expect(Item?.live).toBeUndefined();
    }),
    { numRuns: 80 },
  );
}

describe("the profile item's DELETE record", () => {
  it("on moto is exactly the core's next record, later than any genuine one before it", async () => {
    await deletionRecordsFollowTheRule(dynamodb, await createTokenTable());
  }, 120_000);

  it("on the local server's embedded store (dynalite) too", async () => {
    const embedded = await startEmbeddedDynamoDb();
    try {
      await ensureTokenTable(embedded.client, "tokens", { enableTtl: false });
      await deletionRecordsFollowTheRule(embedded.client, "tokens");
    } finally {
      await embedded.close();
    }
  }, 120_000);
});
