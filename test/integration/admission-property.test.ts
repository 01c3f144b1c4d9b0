/**
 * The table's admission rule is stated once, in `core/admission.ts`; the DynamoDB adapter writes it
 * as a condition expression. This property test holds the condition to the rule: over generated
 * stored items (tokens, forged and foreign records, DELETE records, edited times) and generated
 * writes, a conditional PutItem on moto succeeds exactly when `admits` says it may.
 */
import { type AttributeValue, PutItemCommand } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HINTS, SEALED_RECORD } from "../../functions/adapters/sealed-token-record.js";
import {
  admissionCondition,
  DELETED_AT,
} from "../../functions/adapters/token-admission-condition.js";
import { TOKEN_TABLE_SCHEMA } from "../../functions/adapters/token-table.js";
import { admits, type StoredView, type WriteBasis } from "../../functions/core/admission.js";
import { createTokenTable, dynamodb } from "../support/aws.js";

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
