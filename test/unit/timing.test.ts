import { describe, expect, it } from "vitest";
import {
  API_GATEWAY_TIMEOUT_MS,
  ATTEMPT_LEASE_NEED_MS,
  AWS_ATTEMPT_TIMEOUT_MS,
  AWS_MAX_ATTEMPTS,
  CREDENTIALS_MAX_AGE_MS,
  DELETE_ROUNDS,
  FUNCTION_TIMEOUT_SECONDS,
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
  LEASE_MS,
  LEASE_POLL_MS,
  LEASE_TAKEOVER_MS,
  LEASE_WAIT_MS,
  MARGIN_MS,
  MAX_BACK_OFF_MS,
  WORST_AWS_CALL_MS,
  WORST_DELETE_MS,
  WORST_EXCHANGE_MS,
  WORST_REFRESH_MS,
  WORST_REMEMBER_MS,
  WORST_REQUEST_MS,
  WORST_TABLE_CALL_MS,
} from "../../functions/core/timing.js";

// The worst cases, added up here from the primitive durations rather than taken from the module,
// so a change to a derivation there cannot make these checks pass vacuously.
const exchange =
  IDENTITY_MAX_ATTEMPTS * IDENTITY_ATTEMPT_TIMEOUT_MS +
  (IDENTITY_MAX_ATTEMPTS - 1) * IDENTITY_MAX_BACKOFF_MS;
const awsCall = WORST_AWS_CALL_MS;
const tableCall = 2 * awsCall; // the item, then KMS for its data key

describe("the timing budget", () => {
  it("counts every attempt of an AWS call, each at its timeout", () => {
    expect(WORST_AWS_CALL_MS).toBeGreaterThanOrEqual(AWS_MAX_ATTEMPTS * AWS_ATTEMPT_TIMEOUT_MS);
    expect(WORST_TABLE_CALL_MS).toBe(tableCall);
    expect(WORST_EXCHANGE_MS).toBe(exchange);
  });

  it("fits the worst refresh inside the lease: a guarded read before every attempt, the ledger, then the write", () => {
    const guardedExchange = IDENTITY_MAX_ATTEMPTS * awsCall + exchange;
    const worstUnderLease = guardedExchange + tableCall + tableCall; // ledger, then the token
    expect(WORST_REFRESH_MS).toBeGreaterThanOrEqual(worstUnderLease);
    expect(LEASE_MS).toBeGreaterThanOrEqual(worstUnderLease + MARGIN_MS);
  });

  it("fits a rotation retry after a refusal inside the lease: the secret read again, then a whole guarded exchange", () => {
    const refused = awsCall + IDENTITY_ATTEMPT_TIMEOUT_MS; // guard, then invalid_client
    const retried = awsCall + IDENTITY_MAX_ATTEMPTS * awsCall + exchange + 2 * tableCall;
    expect(LEASE_MS).toBeGreaterThanOrEqual(refused + retried + MARGIN_MS);
  });

  it("sends an attempt only while the lease has room for it and the writes after its answer", () => {
    // Checked by the guard before every attempt: no request in flight, nor write to make, after
    // the lease ends, however the exchange went (a rotation retry past the lease is not sent).
    expect(ATTEMPT_LEASE_NEED_MS).toBeGreaterThanOrEqual(
      IDENTITY_ATTEMPT_TIMEOUT_MS + 2 * tableCall + MARGIN_MS,
    );
    expect(ATTEMPT_LEASE_NEED_MS).toBeLessThan(LEASE_MS);
  });

  it("fits the takeover window, a whole refresh and a margin inside the function timeout", () => {
    const beforeLease = awsCall + tableCall; // credentials, then the table
    // The holder sends nothing, and writes nothing, past its lease (see above).
    const takeover = beforeLease + LEASE_TAKEOVER_MS + awsCall + LEASE_MS + MARGIN_MS;
    const lastPoll = 1.5 * LEASE_POLL_MS + tableCall + awsCall; // the longest pause, table, secret
    const fullWait = beforeLease + LEASE_WAIT_MS + lastPoll + MARGIN_MS;
    expect(WORST_REQUEST_MS + MARGIN_MS).toBeGreaterThanOrEqual(Math.max(takeover, fullWait));
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeGreaterThanOrEqual(Math.max(takeover, fullWait));
  });

  it("lets a request's deadline cut short only a second flight: a first one fits its takeover window and its full wait", () => {
    const beforeLease = tableCall + awsCall; // the table, then the secret
    const leasedRefresh = awsCall + LEASE_MS; // take the lease, then at most the lease
    const pollRound = 1.5 * LEASE_POLL_MS + tableCall + awsCall;
    // The last takeover attempt begins just inside the window; the last poll just inside the wait.
    expect(beforeLease + LEASE_TAKEOVER_MS + leasedRefresh).toBeLessThanOrEqual(WORST_REQUEST_MS);
    expect(beforeLease + LEASE_WAIT_MS + pollRound).toBeLessThanOrEqual(WORST_REQUEST_MS);
  });

  it("remembers a token in the ledger within one table call, counted before the token's write", () => {
    expect(WORST_REMEMBER_MS).toBeLessThanOrEqual(WORST_TABLE_CALL_MS);
  });

  it("keeps waiting for another holder at least as long as that holder may refresh", () => {
    expect(LEASE_WAIT_MS).toBeGreaterThanOrEqual(WORST_REFRESH_MS);
    expect(LEASE_WAIT_MS).toBeGreaterThanOrEqual(LEASE_MS);
  });

  it("fits a DELETE, the ledger's read, its revocations with one retry and the ledger's cleanup inside the function timeout", () => {
    const revocationAttempt = awsCall + IDENTITY_ATTEMPT_TIMEOUT_MS; // secret, then one POST
    const ledgerRead = tableCall; // the item, then its data keys at once
    const round = tableCall + ledgerRead + awsCall; // the write, the ledger, the item again
    expect(DELETE_ROUNDS).toBeGreaterThanOrEqual(2); // one more write when the item changed life
    expect(WORST_DELETE_MS).toBeGreaterThanOrEqual(
      DELETE_ROUNDS * round + 2 * revocationAttempt + awsCall,
    );
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeGreaterThanOrEqual(WORST_DELETE_MS + MARGIN_MS);
  });

  it("lets no credentials be used longer than the item outlives a DELETE (its keep)", () => {
    // A writer that read "no item" and froze past a DELETE and the item's vanishing finds "no
    // item" again: the guard's bound on the credentials' age is what refuses its old credentials.
    expect(CREDENTIALS_MAX_AGE_MS).toBeLessThan(MAX_BACK_OFF_MS + LEASE_MS);
  });

  it("times the function out before API Gateway gives up on it", () => {
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeLessThan(API_GATEWAY_TIMEOUT_MS);
  });
});
