/**
 * A DELETE revokes what it dropped, never a token another instance obtained during it and went on
 * serving: after the DELETE's 204, no instance (the deleting one, the one that refreshed during
 * it, a fresh one) serves a token CyberArk was told to revoke.
 *
 * The race: instance A's DELETE drops the profile's tokens and must open what it dropped (KMS
 * `Decrypt`); its KMS is slow. Meanwhile instance B, which holds nothing in memory, reads the
 * table, finds no token, obtains T2 and writes it. When A's DELETE then revokes, T2 is not its
 * business: it was obtained after the DELETE took effect on the table.
 *
 * Two forms: a deterministic one (A's Decrypt is held until B's GET has answered), and the end to
 * end one (every Decrypt of A is 2 s slow; B's GET starts 0.5 s after the DELETE).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Instance, RaceWorld, sleep } from "../support/race-world.js";
import { SlowKmsProxy } from "../support/slow-kms-proxy.js";

const world = new RaceWorld();
const slowKms = new SlowKmsProxy();

beforeAll(async () => {
  await Promise.all([world.start(), slowKms.start()]);
});

afterAll(async () => {
  await Promise.all([world.stop(), slowKms.stop()]);
});

beforeEach(async () => {
  // Each test starts from an emptied profile; the tenant forgets what it saw.
  expect((await world.instance()({ method: "DELETE" })).status).toBe(204);
  world.simulator.reset();
  slowKms.decryptDelayMs = 0;
});

/** A token of the profile's default set, from instance `instance`. */
async function served(instance: Instance, label: string): Promise<string> {
  const answer = await instance();
  expect(answer.status, `${label}: ${JSON.stringify(answer.json)}`).toBe(200);
  return answer.token as string;
}

/**
 * After the DELETE's 204: what the deleting instance, the instance that refreshed during it and a
 * fresh instance serve; none of it may be a token the tenant was told to revoke.
 */
async function expectNoRevokedTokenServed(
  instances: Record<string, Instance>,
  known: Record<string, string>,
): Promise<void> {
  const revokedServed: string[] = [];
  for (const [label, instance] of Object.entries(instances)) {
    const token = await served(instance, label);
    const name = Object.entries(known).find(([, value]) => value === token)?.[0] ?? "a new token";
    if (world.simulator.isRevoked(token)) revokedServed.push(`${label} served ${name}`);
  }
  expect(revokedServed, "instances that served a revoked token after the DELETE's 204").toEqual([]);
}

describe("a DELETE during another instance's refresh", () => {
  it("deterministic: B refreshes while A's DELETE waits for KMS; afterwards no instance serves a revoked token", async () => {
    // T1, cached in the table by an instance of its own: A and B hold nothing in memory.
    const t1 = await served(world.instance(), "first instance");
    const a = world.instance({ kms: slowKms.client() });
    const b = world.instance();

    const hold = slowKms.hold();
    const deleting = a({ method: "DELETE" });
    // A's slow phase: its first Decrypt is held (a DELETE that needs none has nothing to race).
    const raced = await Promise.race([hold.arrived.then(() => true), deleting.then(() => false)]);
    expect(raced, "A's DELETE opened what it dropped through KMS").toBe(true);
    const t2 = await served(b, "B during the DELETE");
    hold.release();
    expect((await deleting).status).toBe(204);

    expect(t2).not.toBe(t1);
    expect(world.simulator.isRevoked(t1), "the dropped token T1 is revoked").toBe(true);
    await expectNoRevokedTokenServed(
      {
        "A (deleting)": a,
        "B (refreshed during it)": b,
        fresh: world.instance(),
      },
      { T1: t1, T2: t2 },
    );
  });

  it("end to end: A's KMS is 2 s slow to Decrypt and B's GET starts 0.5 s after the DELETE; afterwards no instance serves a revoked token", async () => {
    const t1 = await served(world.instance(), "first instance");
    const a = world.instance({ kms: slowKms.client() });
    const b = world.instance();
    slowKms.decryptDelayMs = 2_000;

    const decryptsBefore = slowKms.decrypts;
    const started = Date.now();
    const deleting = a({ method: "DELETE" });
    await sleep(500 - (Date.now() - started));
    const during = await b();
    const deleted = await deleting;
    slowKms.decryptDelayMs = 0;

    expect(deleted.status).toBe(204);
    expect(slowKms.decrypts, "A's DELETE went through the slow KMS").toBeGreaterThan(
      decryptsBefore,
    );
    expect(during.status).toBe(200);
    const t2 = during.token as string;
    expect(world.simulator.isRevoked(t1), "the dropped token T1 is revoked").toBe(true);
    await expectNoRevokedTokenServed(
      {
        "A (deleting)": a,
        "B (refreshed during it)": b,
        fresh: world.instance(),
      },
      { T1: t1, T2: t2 },
    );
  });
});
