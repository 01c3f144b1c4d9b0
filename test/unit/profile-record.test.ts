/**
 * The record's transitions, pure: the rules every store and the vendor apply.
 */
import { describe, expect, it } from "vitest";
import { mayAsk } from "../../functions/core/attempt-guard.js";
import {
  deleteTokens,
  emptyRecord,
  MAX_PLACES_PER_CALLER,
  type ProfileRecord,
  takeLease,
  writeToken,
} from "../../functions/core/profile-record.js";

const NOW = 1_000_000;
const base = (): ProfileRecord<string> => ({ ...emptyRecord<string>(), incarnation: "life" });
const ask = (tag: string, owner: string, caller = "c1") => ({
  tag,
  defaultTag: "-",
  owner,
  caller,
  now: NOW,
  until: NOW + 19_000,
});
const taken = (record: ProfileRecord<string>, tag: string, owner: string, caller = "c1") => {
  const decision = takeLease(record, ask(tag, owner, caller));
  if (decision.kind !== "take") throw new Error(`not taken: ${decision.kind}`);
  return decision.next;
};
const write = (owner: string, token: string, expiresAt: number) => ({
  tag: "t",
  owner,
  incarnation: "life",
  epoch: 0,
  token,
  expiresAt,
  placeUntil: expiresAt,
});

describe("writeToken", () => {
  it("writes the lease holder's token and gives its lease back in the same write", () => {
    const decision = writeToken(taken(base(), "t", "a"), write("a", "A", NOW + 60_000));
    expect(decision.kind).toBe("write");
    if (decision.kind !== "write") return;
    expect(decision.next.sets.get("t")).toMatchObject({ token: { token: "A" } });
    expect(decision.next.sets.get("t")?.lease).toBeUndefined();
  });

  it("never lets a writer whose lease passed on replace a token that lasts longer (a thawed holder)", () => {
    const byB = writeToken(taken(base(), "t", "b"), write("b", "B", NOW + 60_000));
    if (byB.kind !== "write") throw new Error("B's write refused");
    const late = writeToken(byB.next, write("a", "A-expired", NOW - 1));
    expect(late.kind).toBe("write");
    if (late.kind !== "write") return;
    expect(late.next.sets.get("t")?.token?.token).toBe("B");
  });

  it("refuses a token of an epoch a DELETE ended, or of another life of the item", () => {
    const record = deleteTokens(taken(base(), "t", "a"));
    expect(writeToken(record, write("a", "A", NOW + 60_000)).kind).toBe("deleted");
    const reborn = { ...taken(base(), "t", "a"), incarnation: "another" };
    expect(writeToken(reborn, write("a", "A", NOW + 60_000)).kind).toBe("deleted");
  });
});

describe("takeLease: fair places", () => {
  it(`gives one caller at most ${MAX_PLACES_PER_CALLER} of the 7 other places, the default set always`, () => {
    let record = base();
    for (const tag of ["x1", "x2", "x3"]) record = taken(record, tag, `o-${tag}`);
    expect(takeLease(record, ask("x4", "o-x4"))).toMatchObject({ kind: "full", bound: "caller" });
    expect(takeLease(record, ask("x4", "o-x4", "c2")).kind).toBe("take");
    expect(takeLease(record, ask("-", "o-default")).kind).toBe("take");
  });

  it("counts a set whose request is in flight after a DELETE dropped its place: its lease lives", () => {
    let record = taken(base(), "x1", "in-flight");
    record = deleteTokens(record);
    for (const [n, caller] of [
      [2, "c2"],
      [3, "c2"],
      [4, "c2"],
      [5, "c3"],
      [6, "c3"],
      [7, "c3"],
    ]) {
      record = taken(record, `x${n}`, `o${n}`, caller as string);
    }
    expect(takeLease(record, ask("x8", "o8", "c4"))).toMatchObject({
      kind: "full",
      bound: "profile",
    });
  });
});

describe("mayAsk: the guard before every attempt", () => {
  const held = taken(base(), "t", "a");
  const guard = (record: ProfileRecord<string>, now = NOW) =>
    mayAsk(record, { tag: "t", owner: "a", incarnation: "life", epoch: 0, now, needMs: 7_800 });

  it("lets the holder send while its lease has room, no back-off lasts and the life is the same", () => {
    expect(guard(held)).toBeUndefined();
  });

  it("refuses once the lease is another's or too short, inside a back-off, or after a DELETE", () => {
    expect(guard(taken({ ...held, sets: new Map() }, "t", "b"))).toBe("lease-lost");
    expect(guard(held, NOW + 19_000 - 7_800)).toBe("lease-lost");
    expect(guard({ ...held, backOffUntil: NOW + 1 })).toBe("backing-off");
    expect(guard(deleteTokens(held))).toBe("deleted");
  });
});
