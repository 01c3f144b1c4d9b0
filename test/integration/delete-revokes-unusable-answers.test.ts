/**
 * A DELETE revokes every live token the service obtained for a custom-app profile. A token
 * CyberArk granted with more scopes than asked is unusable (not served, not cached, 503), but
 * the service did obtain it and it works at CyberArk until it expires, with a scope nobody asked
 * for: it must be revoked, by the service at once or by the next DELETE.
 */
import { describe, expect, it } from "vitest";
import { directed, useInterleavingTable } from "../support/interleaving-table.js";

const table = useInterleavingTable();

describe("a DELETE and an answer that could not be used", () => {
  it("revokes a token CyberArk granted broader than asked, which the service obtained and did not serve", async () => {
    const w = await directed(table());
    w.nextAnswers.push({ granted: "read admin" });
    const get = w.get(0);
    await w.drain();
    await get;
    expect(w.errors[0]?.message).toMatch(/not asked: admin/);
    expect(w.served).toEqual([]);
    const [broad] = [...w.issued.values()];
    const deleting = w.del(1);
    await w.drain();
    await deleting;
    expect(w.deletes[0]?.result).toBeDefined();
    expect(broad?.revokedSeq, w.sched.trace.join("\n")).toBeDefined();
  });
});
