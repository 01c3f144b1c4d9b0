/**
 * The ProfileStore port's contract, as one suite run against every implementation: the in-memory
 * store the unit tests use, the DynamoDB adapter on moto, and the same adapter on the local
 * server's embedded store. If one drifts from the rule (`core/profile-record.ts`, `ports.ts`),
 * this suite fails for it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { ProfileStore, RecordRead, StoredToken } from "../../functions/core/ports.js";
import {
  backOff,
  type ProfileRecord,
  pruned,
  servableToken,
  takeLease,
  writeToken,
} from "../../functions/core/profile-record.js";
import { NO_SCOPES, scopeSetOf, setTag } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";

export const T0 = Date.parse("2026-11-21T12:00:00Z");
export const DEFAULT_TAG = setTag(NO_SCOPES);
export const OTHER_TAG = setTag(scopeSetOf(["ReadUserProfile"]));
const LEASE_UNTIL = T0 + 30_000;

export function token(fields: Partial<CachedToken> = {}): CachedToken {
  return {
    cacheKey: "identity-a",
    accessToken: "token-a",
    scope: "ReadUserProfile",
    issuedAt: T0,
    expiresAt: T0 + 3_600_000,
    ...fields,
  };
}

/** The lease of `tag` taken on `read` by `owner` (the record made to write). */
export function leased(
  read: RecordRead,
  tag = DEFAULT_TAG,
  owner = "owner-1",
  incarnation = "inc-new",
): ProfileRecord<StoredToken> {
  const record = pruned(read.record, T0);
  const decision = takeLease(record, {
    tag,
    defaultTag: DEFAULT_TAG,
    owner,
    caller: `caller-${tag}`,
    now: T0,
    until: LEASE_UNTIL,
  });
  if (decision.kind !== "take") throw new Error(`lease not taken: ${decision.kind}`);
  return { ...decision.next, incarnation: record.incarnation ?? incarnation };
}

/** `t` written for `tag` on `read` (whose lease `owner` holds), stamped as the record read. */
export function withToken(
  store: ProfileStore,
  profile: string,
  read: RecordRead,
  t: CachedToken,
  tag = DEFAULT_TAG,
  owner = "owner-1",
): ProfileRecord<StoredToken> {
  const { record } = read;
  const stamp = { incarnation: record.incarnation ?? "", epoch: record.epoch };
  const decision = writeToken(pruned(record, T0), {
    tag,
    owner,
    incarnation: record.incarnation,
    epoch: record.epoch,
    token: store.fresh(profile, tag, t, stamp),
    expiresAt: t.expiresAt,
    placeUntil: t.expiresAt,
  });
  if (decision.kind !== "write") throw new Error("refused as deleted");
  return decision.next;
}

/** Writes a token for `tag` the way a refresh does: lease, then token. */
export async function storeToken(
  store: ProfileStore,
  profile: string,
  t: CachedToken,
  tag = DEFAULT_TAG,
): Promise<void> {
  const first = await store.read(profile);
  expect(await store.write(profile, first, leased(first, tag))).toBe(true);
  const second = await store.read(profile);
  expect(await store.write(profile, second, withToken(store, profile, second, t, tag))).toBe(true);
}

/** The token of `tag` a read would serve at T0, opened. */
export async function served(
  store: ProfileStore,
  profile: string,
  tag = DEFAULT_TAG,
): Promise<CachedToken | undefined> {
  const entry = servableToken((await store.read(profile)).record, tag, T0);
  return entry?.token.open();
}

/** What a store under the contract can be asked. */
export interface ContractOptions {
  /**
   * Whether simultaneous writes of one item are atomic, as DynamoDB makes them. moto applies an
   * `UpdateItem` in steps, without a lock, so two sent at once may both read the old counter:
   * there the DELETEs are sent one after another.
   * @default true
   */
  readonly atomicWhenSimultaneous?: boolean;
}

/** Runs the contract against stores made by `newStore` (a fresh, empty store per test). */
export function describeProfileStoreContract(
  name: string,
  newStore: () => ProfileStore | Promise<ProfileStore>,
  options: ContractOptions = {},
): void {
  describe(`ProfileStore contract: ${name}`, () => {
    let store: ProfileStore;
    beforeEach(async () => {
      store = await newStore();
    });

    it("reads the empty record for a profile never written", async () => {
      const { record } = await store.read("p");
      expect(record.incarnation).toBeUndefined();
      expect(record).toMatchObject({ version: 0, epoch: 0, backOffUntil: 0 });
      expect(record.sets.size).toBe(0);
    });

    it("creates the item with the incarnation the writer chose, at version 1", async () => {
      const read = await store.read("p");
      expect(await store.write("p", read, leased(read, DEFAULT_TAG, "owner-1", "inc-1"))).toBe(
        true,
      );
      const { record } = await store.read("p");
      expect(record).toMatchObject({ incarnation: "inc-1", version: 1, epoch: 0 });
      expect(record.sets.get(DEFAULT_TAG)?.lease).toEqual({ owner: "owner-1", until: LEASE_UNTIL });
    });

    it("refuses a write whose read is no longer the item's (same incarnation, older version)", async () => {
      const read = await store.read("p");
      await store.write("p", read, leased(read));
      const a = await store.read("p");
      const b = await store.read("p");
      expect(await store.write("p", a, leased(a, OTHER_TAG, "owner-a"))).toBe(true);
      expect(await store.write("p", b, leased(b, OTHER_TAG, "owner-b"))).toBe(false);
      expect((await store.read("p")).record.sets.get(OTHER_TAG)?.lease?.owner).toBe("owner-a");
    });

    it("refuses to create an item that another writer created since the read", async () => {
      const a = await store.read("p");
      const b = await store.read("p");
      expect(await store.write("p", a, leased(a, DEFAULT_TAG, "owner-a", "inc-a"))).toBe(true);
      expect(await store.write("p", b, leased(b, DEFAULT_TAG, "owner-b", "inc-b"))).toBe(false);
      expect((await store.read("p")).record.incarnation).toBe("inc-a");
    });

    it("reads back a token written, servable and opening to exactly what was written", async () => {
      await storeToken(store, "p", token());
      expect(await served(store, "p")).toEqual(token());
      const { scope: _scope, ...unscoped } = token({ accessToken: "unscoped" });
      await storeToken(store, "q", unscoped);
      expect(await served(store, "q")).toEqual(unscoped);
    });

    it("keeps each profile's record apart", async () => {
      await storeToken(store, "p", token());
      await storeToken(store, "q", token({ accessToken: "token-q" }));
      expect((await served(store, "p"))?.accessToken).toBe("token-a");
      expect((await served(store, "q"))?.accessToken).toBe("token-q");
    });

    it("keeps another set's token through a write about this set", async () => {
      await storeToken(store, "p", token({ accessToken: "other" }), OTHER_TAG);
      await storeToken(store, "p", token(), DEFAULT_TAG);
      expect((await served(store, "p", OTHER_TAG))?.accessToken).toBe("other");
      expect((await served(store, "p", DEFAULT_TAG))?.accessToken).toBe("token-a");
    });

    it("never opens a token stamped with another epoch or incarnation than the record's", async () => {
      const first = await store.read("p");
      await store.write("p", first, leased(first));
      const read = await store.read("p");
      const next = withToken(store, "p", read, token());
      const entry = next.sets.get(DEFAULT_TAG);
      if (!entry?.token) throw new Error("no token");
      const stale = store.fresh("p", DEFAULT_TAG, token(), { incarnation: "other", epoch: 0 });
      const sets = new Map(next.sets);
      sets.set(DEFAULT_TAG, { ...entry, token: { ...entry.token, token: stale } });
      expect(await store.write("p", read, { ...next, sets })).toBe(true);
      expect(await served(store, "p")).toBeUndefined();
    });

    it("a DELETE adds one to epoch and version, drops every token and place, keeps leases and the back-off, and answers what it dropped", async () => {
      await storeToken(store, "p", token({ accessToken: "other" }), OTHER_TAG);
      await storeToken(store, "p", token());
      const read = await store.read("p");
      const leasedAgain = leased(read, DEFAULT_TAG, "owner-2");
      const withBackOff = backOff(leasedAgain, T0 + 60_000) ?? leasedAgain;
      expect(await store.write("p", read, withBackOff)).toBe(true);
      const before = (await store.read("p")).record;

      const deleted = await store.delete("p", T0 + 1_000);

      expect(deleted.incarnation).toBe(before.incarnation);
      expect(deleted.epoch).toBe(0);
      expect(deleted.dropped.map((t) => t.accessToken).sort()).toEqual(["other", "token-a"]);
      const after = (await store.read("p")).record;
      expect(after).toMatchObject({
        incarnation: before.incarnation,
        version: before.version + 1,
        epoch: 1,
        backOffUntil: T0 + 60_000,
      });
      expect(after.sets.get(DEFAULT_TAG)).toEqual({
        lease: { owner: "owner-2", until: LEASE_UNTIL },
      });
      expect(after.sets.has(OTHER_TAG)).toBe(false);
    });

    it("DELETEs never tie: each lands and adds one to epoch", async () => {
      await storeToken(store, "p", token());
      const three = [1, 2, 3];
      const results =
        options.atomicWhenSimultaneous === false
          ? [await store.delete("p", T0), await store.delete("p", T0), await store.delete("p", T0)]
          : await Promise.all(three.map(() => store.delete("p", T0)));
      expect(results.map((r) => r.epoch).sort()).toEqual([0, 1, 2]);
      expect((await store.read("p")).record.epoch).toBe(3);
    });

    it("a DELETE of a profile without an item creates it at epoch 1 under the incarnation it answers", async () => {
      const deleted = await store.delete("gone", T0);
      expect(deleted).toMatchObject({ epoch: 0, dropped: [] });
      expect(deleted.incarnation).toEqual(expect.any(String));
      const { record } = await store.read("gone");
      expect(record).toMatchObject({ incarnation: deleted.incarnation, epoch: 1, version: 1 });
    });

    it("refuses a write that read the record before a DELETE", async () => {
      const first = await store.read("p");
      await store.write("p", first, leased(first));
      const read = await store.read("p");
      await store.delete("p", T0);
      expect(await store.write("p", read, withToken(store, "p", read, token()))).toBe(false);
      expect(await served(store, "p")).toBeUndefined();
    });

    it("refuses a write that read the first of two DELETEs made at the same moment", async () => {
      await storeToken(store, "p", token({ accessToken: "before" }));
      await store.delete("p", T0);
      const read = await store.read("p");
      await store.delete("p", T0);
      const late = token({ accessToken: "read-before-the-second" });
      expect(await store.write("p", read, withToken(store, "p", read, late))).toBe(false);
      expect(await served(store, "p")).toBeUndefined();
    });

    it("a token written after the DELETE, by a writer that read it, is served", async () => {
      await storeToken(store, "p", token({ accessToken: "before" }));
      await store.delete("p", T0);
      const read = await store.read("p");
      expect(await store.write("p", read, withToken(store, "p", read, token()))).toBe(true);
      expect((await served(store, "p"))?.accessToken).toBe("token-a");
    });
  });
}
