/**
 * The guard before every attempt at CyberArk bounds the credentials' age: a writer that read "no
 * item" and its secret, froze past a DELETE and the item's vanishing after it, and finds "no item"
 * again (its lease write creates a new life, which its credentials' tag fits) never asks CyberArk
 * with the credentials it read before the DELETE. That holds because the item outlives a DELETE
 * by longer than credentials may be used (`timing.test.ts`). Fake clock, in-memory store with TTL.
 */
import { describe, expect, it } from "vitest";
import { TokenExchange } from "../../functions/core/exchange.js";
import { LeasedExchange } from "../../functions/core/leased-exchange.js";
import { Ledger } from "../../functions/core/ledger.js";
import { NO_METRICS } from "../../functions/core/ports.js";
import { takeLease } from "../../functions/core/profile-record.js";
import { ProfileSlots } from "../../functions/core/profile-slot.js";
import { SharedRecords } from "../../functions/core/records.js";
import { setTag } from "../../functions/core/scope-set.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../../functions/core/timing.js";
import { lifeOf, Work } from "../../functions/core/work.js";
import {
  exampleConfig,
  FakeClock,
  FakeIdentity,
  FakeSecrets,
  MemoryLogger,
  MemoryStore,
} from "../support/fakes.js";

const KEEP_S = (MAX_BACK_OFF_MS + LEASE_MS) / 1000; // how long the item outlives a DELETE

describe("the per-attempt guard and the credentials' age", () => {
  it("a writer frozen past a DELETE and the item's vanishing never asks CyberArk with credentials read before the DELETE", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore(clock);
    const secrets = new FakeSecrets();
    secrets.set("cyberark/ci-deployer", { client_id: "svc", client_secret: "old" }, "v1");
    const identity = new FakeIdentity();
    const logger = new MemoryLogger();
    const now = () => clock.now();
    const slots = new ProfileSlots({ secrets, clock });
    const records = new SharedRecords(store, now, logger);
    const exchange = new TokenExchange({ slots, identity, clock, metrics: NO_METRICS, logger });
    const ledger = new Ledger(undefined, identity, now, logger);
    const leased = new LeasedExchange({ records, exchange, ledger, clock, logger });
    const profile = exampleConfig().profiles.get("ci-deployer");
    if (!profile) throw new Error("no profile");
    const work = new Work({ slots, records, clock }, profile, profile.defaultScopes);

    // The writer reads "no item" and the secret (tagged with that life)...
    const first = await records.read(profile.name);
    expect(first?.record.incarnation).toBeUndefined();
    const credentials = await work.current.credentials.get({ stamp: "/0" });
    // ...and freezes: the secret is rotated after a leak, the profile DELETEd, the item vanishes.
    secrets.set("cyberark/ci-deployer", { client_id: "svc", client_secret: "new" }, "v2");
    await store.delete(profile.name, clock.now());
    clock.advanceSeconds(KEEP_S + 1);
    // It thaws, finds "no item" again, and its lease write creates a new life.
    const reading = await records.read(profile.name);
    if (!reading) throw new Error("no read");
    expect(reading.record.incarnation).toBeUndefined();
    const tag = setTag(profile.defaultScopes);
    const until = clock.now() + LEASE_MS;
    const ask = { tag, defaultTag: tag, owner: "writer", caller: "c", now: clock.now(), until };
    const decision = takeLease(reading.record, ask);
    if (decision.kind !== "take") throw new Error(decision.kind);
    const next = { ...decision.next, incarnation: "new-life" };
    expect(await records.write(profile.name, reading, next)).toBe(true);
    const hold = { owner: "writer", until, stamp: lifeOf(next), reading };

    await expect(leased.run(work, credentials, hold)).rejects.toThrow();

    expect(identity.requests.map((r) => r.clientSecret)).not.toContain("old");
  });
});
