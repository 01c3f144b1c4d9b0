import { describe, expect, it } from "vitest";
import {
  mayAsk,
  type ProfileRecord,
  takeLease,
  writeToken,
} from "../../functions/core/profile-record.js";
import { explore } from "./explore.js";
import { QUICK, RULES, type Rules, type Scenario } from "./model.js";

// Small scopes for the broken protocols: each break shows within a few steps, and breadth first
// finds it before the state space is done.
const SMALL: Scenario = {
  instances: 2,
  admins: 1,
  budget: { gets: 2, deletes: 1, rotations: 0, throttles: 0, failures: 0 },
  renewals: false,
};
const WITH_RETRY: Scenario = { ...SMALL, budget: { ...SMALL.budget, failures: 1 } };
const WITH_BACK_OFF: Scenario = { ...SMALL, budget: { ...SMALL.budget, throttles: 1 } };

function withoutLease<T>(record: ProfileRecord<T>, tag: string): ProfileRecord<T> {
  const sets = new Map(record.sets);
  const entry = sets.get(tag);
  if (entry) {
    const { lease: _dropped, ...rest } = entry;
    sets.set(tag, rest);
  }
  return { ...record, sets };
}

const MUTATIONS: readonly { name: string; scenario: Scenario; rules: Partial<Rules> }[] = [
  {
    name: "a token's write ignores the epoch (and life) its writer read",
    scenario: SMALL,
    rules: {
      writeToken: (record, write) =>
        writeToken(record, { ...write, epoch: record.epoch, incarnation: record.incarnation }),
    },
  },
  {
    name: "a DELETE revokes every live ledger entry, those of epoch e+1 too",
    scenario: SMALL,
    rules: {
      judgeOf: (_lives, _newer, _settled, now) => (entry) =>
        entry.expiresAt > now ? true : "expired",
    },
  },
  {
    name: "the per-attempt guard is skipped on retries",
    scenario: WITH_RETRY,
    rules: { guardRetries: false },
  },
  {
    name: "a lease is taken while another owner holds it",
    scenario: SMALL,
    rules: { takeLease: (record, ask) => takeLease(withoutLease(record, ask.tag), ask) },
  },
  {
    name: "the guard ignores the back-off",
    scenario: WITH_BACK_OFF,
    rules: { mayAsk: (record, ask) => mayAsk({ ...record, backOffUntil: 0 }, ask) },
  },
  {
    name: "a DELETE leaves the epoch as it was",
    scenario: SMALL,
    rules: { deleteTokens: (record) => ({ ...RULES.deleteTokens(record), epoch: record.epoch }) },
  },
  {
    name: "a DELETE frozen past its keep does not read the item again (takes the next life as older)",
    scenario: SMALL,
    rules: { deleteRereadsItem: false },
  },
  {
    name: "a write right after a DELETE lets the item vanish (ttl from what it holds alone)",
    scenario: SMALL,
    rules: { ttlOfWrite: (next) => RULES.ttlOfWrite(next, undefined, Number.NEGATIVE_INFINITY) },
  },
  {
    name: "the guard accepts credentials of any age",
    scenario: SMALL,
    rules: { guardChecksCredentialsAge: false },
  },
  {
    name: "a ledger entry's expiry counts from the first attempt",
    scenario: WITH_RETRY,
    rules: { ledgerFromArrival: false },
  },
];

describe("the shared-cache protocol, explored exhaustively", () => {
  // The scope with a secret rotation too takes minutes (`npm run check:protocol` runs it): the
  // suite runs the one without it.
  it("keeps every invariant in every reachable state: three instances, two sets, a DELETE and a 429", () => {
    // Prepare / Act
    const result = explore(QUICK);

    // Assess
    expect(result.violation).toBeUndefined();
    expect(result.complete).toBe(true);
    expect(result.states).toBeGreaterThan(600_000);
  }, 600_000);

  it.each(MUTATIONS)(
    "catches a broken protocol: $name",
    ({ scenario, rules }) => {
      // Prepare / Act
      const result = explore(scenario, { ...RULES, ...rules });

      // Assess
      expect(result.violation?.problems.length).toBeGreaterThan(0);
      expect(result.violation?.trace.length).toBeGreaterThan(0);
    },
    120_000,
  );
});
