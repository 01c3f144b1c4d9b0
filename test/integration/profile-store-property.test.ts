/**
 * The DynamoDB condition held to the pure rule, on moto: over generated interleavings of reads,
 * writes (from fresh and stale reads, with and without a token) and DELETEs by three instances,
 * - a write lands iff the incarnation and version it read are the item's (or it read no item and
 *   there is still none);
 * - a DELETE always lands, answers the epoch and incarnation it ended, and adds one to epoch;
 * - so a write after a DELETE that read the earlier version never lands, and a token is served
 *   exactly when the last landed token write (by the set's lease holder, as every token write
 *   is) came after the last DELETE.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RecordRead } from "../../functions/core/ports.js";
import { servableToken } from "../../functions/core/profile-record.js";
import { DEFAULT_TAG, T0, token, withToken } from "../support/profile-store-contract.js";
import { storeOnMoto } from "../support/profile-store-fixtures.js";

type Command =
  | { readonly kind: "read"; readonly instance: number }
  | { readonly kind: "write"; readonly instance: number; readonly withToken: boolean }
  | { readonly kind: "delete" };

const instance = fc.integer({ min: 0, max: 2 });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("read" as const), instance }),
  fc.record({ kind: fc.constant("write" as const), instance, withToken: fc.boolean() }),
  fc.record({ kind: fc.constant("delete" as const) }),
);

/** `read` with the default set's lease held by the token writer (`withToken`'s owner). */
function holding(read: RecordRead): RecordRead {
  const sets = new Map(read.record.sets);
  sets.set(DEFAULT_TAG, { ...sets.get(DEFAULT_TAG), lease: { owner: "owner-1", until: T0 + 1 } });
  return { ...read, record: { ...read.record, sets } };
}

/** What the item must be, by the rule alone. */
interface Model {
  incarnation?: string;
  version: number;
  epoch: number;
  backOffUntil: number;
  /** The access token that must be served, if any. */
  served?: string;
}

describe("the DynamoDB profile store's conditions, held to the pure rule on moto", () => {
  it("a write lands iff its read is the item's; a DELETE always lands and moves epoch", async () => {
    const { store } = await storeOnMoto({ kmsKey: false, now: () => T0 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 14 }), async (commands) => {
        run += 1;
        const profile = `p${run}`;
        const model: Model = { version: 0, epoch: 0, backOffUntil: 0 };
        const reads = new Map<number, { read: RecordRead; saw: Model }>();
        let n = 0;
        for (const c of commands) {
          n += 1;
          if (c.kind === "read") {
            reads.set(c.instance, { read: await store.read(profile), saw: { ...model } });
          } else if (c.kind === "write") {
            const last = reads.get(c.instance);
            if (!last) continue;
            const { read, saw } = last;
            const incarnation = read.record.incarnation ?? `inc-${run}-${n}`;
            const accessToken = `token-${run}-${n}`;
            // A token is written under a lease, so on a record that exists, by the lease's holder:
            // the pure rule keeps a stored token that lasts as long against a writer without the
            // lease (one frozen past it), so the write takes the lease and writes in one record.
            const tokenWrite = c.withToken && read.record.incarnation !== undefined;
            const base = tokenWrite
              ? withToken(store, profile, holding(read), token({ accessToken }))
              : read.record;
            const next = { ...base, incarnation, backOffUntil: T0 + n };
            const expected = saw.incarnation === model.incarnation && saw.version === model.version;
            expect(await store.write(profile, read, next)).toBe(expected);
            if (expected) {
              model.incarnation = incarnation;
              model.version += 1;
              model.backOffUntil = T0 + n;
              if (tokenWrite) model.served = accessToken;
            }
            // Its read is spent: a second write from it would be refused the same way.
          } else {
            const deleted = await store.delete(profile, T0);
            expect(deleted.epoch).toBe(model.epoch);
            if (model.incarnation) expect(deleted.incarnation).toBe(model.incarnation);
            model.incarnation = deleted.incarnation;
            model.version += 1;
            model.epoch += 1;
            delete model.served;
          }
          const { record } = await store.read(profile);
          expect({
            incarnation: record.incarnation,
            version: record.version,
            epoch: record.epoch,
            backOffUntil: record.backOffUntil,
          }).toEqual({
            incarnation: model.incarnation,
            version: model.version,
            epoch: model.epoch,
            backOffUntil: model.backOffUntil,
          });
          const entry = servableToken(record, DEFAULT_TAG, T0);
          expect((await entry?.token.open())?.accessToken).toBe(model.served);
        }
      }),
      {
        numRuns: 40,
        // Found by seed 1806225841: the same instance writes a token twice on fresh reads.
        examples: [
          [
            [
              { kind: "delete" },
              { kind: "read", instance: 1 },
              { kind: "write", instance: 1, withToken: true },
              { kind: "read", instance: 1 },
              { kind: "write", instance: 1, withToken: true },
              { kind: "write", instance: 0, withToken: false },
            ],
          ],
        ],
      },
    );
  }, 120_000);
});
