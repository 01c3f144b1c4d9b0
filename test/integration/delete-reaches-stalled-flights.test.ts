/**
 * Nothing obtained before a DELETE is served after it beyond the 30-second memory bound, and no
 * token CyberArk revoked is served to a request that began after the revocation. Here an
 * instance's exchange writes its token to the table, and the instance stalls before the write's
 * answer comes back (a frozen instance, as the protocol allows between any two steps). A DELETE
 * on another instance drops and revokes that token and answers 204. A minute later the instance
 * resumes with a new GET of the same scope set: the GET joins the stalled exchange and is served
 * its token, revoked a minute before the GET began.
 */
import { describe, expect, it } from "vitest";
import { directed, useInterleavingTable } from "../support/interleaving-table.js";

const table = useInterleavingTable();

describe("a GET that begins a minute after a DELETE's 204", () => {
  it("is not served the revoked token of an exchange that stalled after its write landed", async () => {
    const w = await directed(table());
    const first = w.get(1);
    // Instance 1's token write lands in the table; the write's answer has not come back yet.
    await w.drain(
      (pending) =>
        pending.some(
          (g) => g.inst === 1 && g.kind === "ddb-reply" && g.label.startsWith("PutItem"),
        ) && w.snapshots.some((s) => Object.keys(s.tokens).length > 0),
    );
    w.hold(1);
    const deleting = w.del(0);
    await w.drain();
    await deleting;
    const [t1] = [...w.issued.values()];
    expect(t1?.revokedSeq).toBeDefined();
    w.sched.advance(60_000);
    w.thaw(1);
    const second = w.get(1);
    await w.drain();
    await Promise.all([first, second]);
    const late = w.served.find((s) => s.op === 3);
    expect(
      late?.token === t1?.token
        ? `served ${late?.token} (${late?.cache}), revoked a minute before`
        : "",
      w.sched.trace.join("\n"),
    ).toBe("");
    expect(w.finalChecks()).toEqual([]);
  });
});
