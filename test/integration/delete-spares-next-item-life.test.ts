/**
 * A DELETE revokes the tokens of the epochs it ended, never a token of the item's next life: the
 * protocol has a DELETE that stalled longer than its item lived read the item again after its
 * ledger read and start over when the item's incarnation changed. Here a DELETE stalls between
 * its write and its ledger read for longer than the item lives; the item vanishes (TTL), the next
 * GET starts the item's next life and obtains a token the table then serves.
 */
import { describe, expect, it } from "vitest";
import { directed, pendingOf, useInterleavingTable } from "../support/interleaving-table.js";

const table = useInterleavingTable();

describe("a DELETE frozen past its item's life", () => {
  it("never revokes a token of the item's next life, which the table serves", async () => {
    const w = await directed(table());
    // T1, under the item's first life.
    const first = w.get(0);
    await w.drain();
    await first;
    // A DELETE writes, then stalls before it reads the ledger, longer than the item lives.
    const deleting = w.del(1);
    await w.drain(pendingOf(1, "GetItem issued#p1"));
    w.hold(1);
    w.sched.advance(330_000);
    expect(await w.expireItems()).toContain("profile#p1");
    // The next GET starts the item's next life and obtains T2, which the table now serves.
    const second = w.get(2);
    await w.drain();
    await second;
    const t2 = w.served.at(-1)?.token as string;
    expect(w.issued.get(t2)?.request.id).toBe(2);
    // The DELETE resumes and answers 204.
    w.thaw(1);
    await w.drain();
    await deleting;
    expect(w.deletes[0]?.result).toBeDefined();
    // T2 is still what the table serves: it must still work at CyberArk.
    const third = w.get(0, "p1", 60);
    await w.drain();
    await third;
    expect(w.served.at(-1)?.token).toBe(t2);
    expect(w.issued.get(t2)?.revokedSeq, w.sched.trace.join("\n")).toBeUndefined();
  });
});
