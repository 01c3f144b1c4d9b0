/**
 * Independent review (review-25c) on moto: `recordDeletion` under DELETEs from several instances
 * at once, clocks behind, and records edited into the table.
 */
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { recordDeletion } from "../../functions/adapters/profile-item.js";
import { createTokenTable, dynamodb } from "../support/aws.js";

const T0 = Date.parse("2026-12-04T22:00:00Z");
const key = (profile: string) => ({ pk: { S: `sets#${profile}` } });

async function stored(tableName: string, profile: string) {
  const out = await dynamodb.send(
    new GetItemCommand({ TableName: tableName, Key: key(profile), ConsistentRead: true }),
  );
  return out.Item?.deletedAt;
}

describe("recordDeletion on moto", () => {
  it("four instances DELETE in the same millisecond: four distinct records, the last the greatest", async () => {
    const tableName = await createTokenTable();
    const table = { client: dynamodb, tableName };
    const outcomes = await Promise.allSettled(
      [0, 1, 2, 3].map(() => recordDeletion(table, "p", T0)),
    );
    const records = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.record] : []));
    const failures = outcomes.filter((o) => o.status === "rejected");
    expect(failures).toHaveLength(0);
    expect(new Set(records).size).toBe(records.length);
    expect(Number((await stored(tableName, "p"))?.N)).toBe(Math.max(...records));
  });

  it("sequential DELETEs with clocks behind: strictly increasing", async () => {
    const tableName = await createTokenTable();
    const table = { client: dynamodb, tableName };
    const records: number[] = [];
    for (const at of [T0, T0, T0 - 3_000, T0 + 1, T0 - 10]) {
      records.push((await recordDeletion(table, "p", at)).record);
    }
    for (let i = 1; i < records.length; i += 1)
      expect(records[i]).toBeGreaterThan(records[i - 1] ?? Number.NaN);
  });

  it.each([
    ["a string", { S: "x" }],
    ["a fraction", { N: String(T0 + 0.5) }],
    ["a huge number", { N: "9".repeat(38) }],
    ["MAX_SAFE_INTEGER", { N: String(Number.MAX_SAFE_INTEGER) }],
  ])("a forged %s: the DELETE still records its own time", async (_name, forged) => {
    const tableName = await createTokenTable();
    const table = { client: dynamodb, tableName };
    await dynamodb.send(
      new PutItemCommand({ TableName: tableName, Item: { ...key("p"), deletedAt: forged } }),
    );
    const { record } = await recordDeletion(table, "p", T0);
    expect(record).toBe(T0);
    expect((await stored(tableName, "p"))?.N).toBe(String(T0));
  });
});
