/**
 * No token the service revoked is served, and nothing obtained is revoked while the table serves
 * it. When the table fails, the docs promise only that reads and writes count as misses and that
 * callers keep getting tokens. Here an instance's token write lands in the table but its answer
 * is lost (a timeout after DynamoDB applied the write, as happens under throttling or a network
 * blip) while a DELETE ran on the same instance: the instance, taking the failed write for one
 * the DELETE made moot, revokes the token at CyberArk, yet the table holds it (it was obtained
 * under the DELETE's new epoch), and every instance then serves that revoked token from the table
 * for the rest of its lifetime.
 */
import { describe, expect, it } from "vitest";
import { directed, useInterleavingTable } from "../support/interleaving-table.js";

const table = useInterleavingTable();

describe("a token write whose answer is lost after it landed", () => {
  it("never leaves the table serving a token the service revoked", async () => {
    const w = await directed(table());
    // A DELETE on instance 0 writes; the answer to its write is on its way back.
    const deleting = w.del(0);
    const deleteReply = (g: { inst: number; kind: string; label: string }) =>
      g.inst === 0 && g.kind === "ddb-reply" && g.label.startsWith("UpdateItem profile#p1");
    await w.drain((pending) => pending.some(deleteReply));
    // Meanwhile a GET on instance 0 reads the new epoch and obtains a token; its write lands.
    const first = w.get(0);
    const tokenWrite = (g: { inst: number; kind: string; label: string }) =>
      g.inst === 0 && g.kind === "ddb-reply" && g.label.startsWith("PutItem profile#p1");
    await w.drain(
      (pending) =>
        pending.some(tokenWrite) && w.snapshots.some((s) => Object.keys(s.tokens).length > 0),
      5_000,
      deleteReply,
    );
    // The DELETE's answer arrives; then the answer to the token write is lost.
    await w.releaseFirst(deleteReply);
    await w.drain(() => w.deletes[0]?.result !== undefined, 5_000, tokenWrite);
    await w.releaseFirst(tokenWrite, { fault: "lost" });
    await w.drain();
    await Promise.all([first, deleting]);
    // Another instance asks a little later: the table serves that token.
    w.sched.advance(1_000);
    const second = w.get(1);
    await w.drain();
    await second;
    const [token] = [...w.issued.values()];
    const servedRevoked = w.served.filter(
      (s) =>
        s.token === token?.token && token.revokedSeq !== undefined && token.revokedSeq < s.startSeq,
    );
    expect(
      servedRevoked.map(
        (s) => `op${s.op} on i${s.inst} served ${s.token} (${s.cache}), revoked before it began`,
      ),
      w.sched.trace.join("\n"),
    ).toEqual([]);
  });
});
