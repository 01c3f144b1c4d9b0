/**
 * A DELETE frozen between its write and its ledger read for longer than the item's keep (the
 * item vanished, and a GET made a new life of it) never revokes a token of that later life while
 * the table serves it: after its ledger read it reads the item again, and on another life it
 * writes again and reads the ledger again. When it cannot settle which life it saw, it revokes
 * only what is surely older and reports `failed`, never `true`. Fake clock, in-memory store with
 * TTL, a ledger whose DELETE read is held.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { ProfileStore } from "../../functions/core/ports.js";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { DELETE_ROUNDS, LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import {
  ADMIN_ROLE,
  caller,
  exampleConfig,
  FakeClock,
  FakeIdentity,
  FakeSecrets,
  MemoryLogger,
  MemoryStore,
} from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";

const PROFILE = "reports-app"; // a custom OAuth2 app: its tokens can be revoked
const DEFAULT_SET = scopeSetOf(["ReadUserProfile"]);
const KEEP_S = (MAX_BACK_OFF_MS + LEASE_MS) / 1000; // how long the item outlives a DELETE

let clock: FakeClock;
let store: MemoryStore;
let ledger: MemoryIssuedTokens;
let identity: FakeIdentity;
let logger: MemoryLogger;

function newVendor(table: ProfileStore = store): TokenVendor {
  const secrets = new FakeSecrets();
  secrets.set("cyberark/reports", { username: "svc-reports@example.com", password: "pw" });
  return new TokenVendor({
    config: exampleConfig(),
    ...{ secrets, store: table, issued: ledger, identity, clock, logger, random: () => 0.5 },
    sleep: async (ms) => {
      clock.advanceSeconds(ms / 1000);
      await new Promise((resolve) => setTimeout(resolve, 1));
    },
  });
}

const get = () => ({
  profile: PROFILE,
  caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
  minValiditySeconds: 300,
});
const del = () => ({ profile: PROFILE, caller: caller(ADMIN_ROLE) });
const revoked = () => identity.revocations.map((r) => r.token);
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

beforeEach(() => {
  clock = new FakeClock();
  store = new MemoryStore(clock);
  ledger = new MemoryIssuedTokens();
  identity = new FakeIdentity();
  logger = new MemoryLogger();
});

/** T1 in life 1; A's DELETE writes, then freezes before its ledger read past the item's keep. */
async function frozenDelete(table: ProfileStore = store) {
  const [a, b] = [newVendor(table), newVendor()];
  identity.next.push(() => ({ accessToken: "T1", expiresIn: 3600 }));
  expect((await b.getToken(get())).token.accessToken).toBe("T1");
  const firstLife = store.record(PROFILE).incarnation;
  const frozen = ledger.holdNextLive();
  const deleting = a.invalidate(del());
  await settle();
  clock.advanceSeconds(KEEP_S + 1); // the item vanishes (its ttl passed)
  expect(store.record(PROFILE).incarnation).toBeUndefined();
  // A GET on B makes a new life of the item and obtains T2 in it, servable from the table.
  identity.next.push(() => ({ accessToken: "T2", expiresIn: 3600 }));
  expect((await newVendor().getToken(get())).token.accessToken).toBe("T2");
  expect(store.record(PROFILE).incarnation).not.toBe(firstLife);
  return { deleting, frozen };
}

describe("a DELETE frozen past the item's keep", () => {
  it("never revokes a token of the item's next life, which the table goes on serving", async () => {
    const { deleting, frozen } = await frozenDelete();
    frozen.release();
    const outcome = await deleting;

    expect(revoked()).toEqual(["T1"]);
    expect(outcome).toMatchObject({ revoked: "true", revokedCount: 1, skipped: "newer-epoch=1" });
    // T2 began after the DELETE's write: not its business. The table serves it, unrevoked.
    expect(store.servable(PROFILE, DEFAULT_SET)).toMatchObject({ accessToken: "T2" });
    const next = await newVendor().getToken(get());
    expect(next).toMatchObject({ cache: "table", token: { accessToken: "T2" } });
  });

  it("revokes only what is surely older, and reports failed, when it cannot read the item again", async () => {
    const { deleting, frozen } = await frozenDelete();
    store.failing = true; // the item's read after the ledger's fails
    frozen.release();
    const outcome = await deleting;
    store.failing = false;

    expect(revoked()).toEqual(["T1"]);
    expect(store.servable(PROFILE, DEFAULT_SET)).toMatchObject({ accessToken: "T2" });
    expect(outcome).toMatchObject({ revoked: "failed", revokedCount: 1, skipped: "failed=1" });
  });

  it("writes at most a bounded number of times when the item keeps changing life", async () => {
    let deletes = 0;
    // The DELETE's instance reads the item as another life each time.
    const moving: ProfileStore = {
      read: async (profile) => {
        const read = await store.read(profile);
        return { record: { ...read.record, incarnation: `moving-${deletes}` } };
      },
      write: (profile, read, next) => store.write(profile, read, next),
      delete: (profile, now) => {
        deletes += 1;
        return store.delete(profile, now);
      },
      fresh: (...args) => store.fresh(...args),
    };
    const { deleting, frozen } = await frozenDelete(moving);
    // A token of a life the DELETE never wrote in (it cannot tell older from newer).
    const stranger = { accessToken: "T-other-life", expiresAt: clock.now() + 3_600_000 };
    const token = { ...store.items.get(PROFILE), ...stranger } as never;
    const entry = { asked: DEFAULT_SET, token, incarnation: "other-life", epoch: 0 };
    await ledger.remember(PROFILE, { ...entry, expiresAt: stranger.expiresAt }, clock.now());
    frozen.release();
    const outcome = await deleting;

    expect(deletes).toBe(DELETE_ROUNDS);
    expect(revoked()).toEqual(expect.arrayContaining(["T1", "T2"])); // of the lives it wrote in
    expect(revoked()).not.toContain("T-other-life");
    expect(outcome).toMatchObject({ revoked: "failed", skipped: "failed=1" });
    expect(logger.lines.map((l) => l.message)).toContain(
      "the profile's item changed life during the DELETE; tokens of another life not revoked",
    );
  });
});
