import { describe, expect, it } from "vitest";
import {
  API_GATEWAY_TIMEOUT_MS,
  AWS_ATTEMPT_TIMEOUT_MS,
  AWS_MAX_ATTEMPTS,
  BACK_OFF_READ_MAX_AGE_MS,
  FUNCTION_TIMEOUT_SECONDS,
  IDENTITY_ATTEMPT_TIMEOUT_MS,
  IDENTITY_MAX_ATTEMPTS,
  IDENTITY_MAX_BACKOFF_MS,
  LEASE_LEFT_AFTER_LATE_PLACE_MS,
  LEASE_MS,
  LEASE_POLL_MS,
  LEASE_TAKEOVER_MS,
  LEASE_WAIT_MS,
  MARGIN_MS,
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
const rotationRetry = awsCall + exchange; // re-read the secret, exchange again

describe("the timing budget", () => {
  it("counts every attempt of an AWS call, each at its timeout", () => {
    expect(WORST_AWS_CALL_MS).toBeGreaterThanOrEqual(AWS_MAX_ATTEMPTS * AWS_ATTEMPT_TIMEOUT_MS);
    expect(WORST_TABLE_CALL_MS).toBe(tableCall);
    expect(WORST_EXCHANGE_MS).toBe(exchange);
  });

  it("fits the worst exchange, the secret reads and the rotation retry inside the lease", () => {
    const backOffRead = awsCall;
    const secretReread = awsCall; // the table disagrees with the credentials held
    const worstUnderLease =
      tableCall + secretReread + backOffRead + exchange + rotationRetry + tableCall;
    expect(WORST_REFRESH_MS).toBeGreaterThanOrEqual(worstUnderLease);
    expect(LEASE_MS).toBeGreaterThanOrEqual(worstUnderLease + MARGIN_MS);
  });

  it("leaves the worst refresh room in a lease whose grant took as long as a grant may and be used", () => {
    // The lease ends LEASE_MS after the grant was asked for; a grant slower than one AWS call is
    // not used (a freeze or a stall: it may have overwritten a live lease).
    const worstUnderLease = tableCall + awsCall + awsCall + exchange + rotationRetry + tableCall;
    expect(LEASE_MS - awsCall).toBeGreaterThanOrEqual(worstUnderLease);
  });

  it("lets a holder that took its set's place late ask CyberArk only if it still ends within a worst refresh", () => {
    const pastReads = awsCall + exchange + rotationRetry + tableCall; // back-off read, ..., write
    // Asked at `until - left` at the latest, it ends by `until - left + pastReads`, which must be
    // no later than a worst refresh from the grant's asking: `until - LEASE_MS + WORST_REFRESH_MS`.
    expect(pastReads - LEASE_LEFT_AFTER_LATE_PLACE_MS).toBeLessThanOrEqual(
      WORST_REFRESH_MS - LEASE_MS,
    );
  });

  it("fits the takeover window, a whole refresh and a margin inside the function timeout", () => {
    const beforeLease = awsCall + tableCall; // credentials, then the table
    const takeover =
      beforeLease + LEASE_TAKEOVER_MS + awsCall + WORST_REFRESH_MS + awsCall + MARGIN_MS;
    const lastPoll = 1.5 * LEASE_POLL_MS + tableCall + awsCall; // the longest pause, table, secret
    const fullWait = beforeLease + LEASE_WAIT_MS + lastPoll + MARGIN_MS;
    expect(WORST_REQUEST_MS + MARGIN_MS).toBeGreaterThanOrEqual(Math.max(takeover, fullWait));
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeGreaterThanOrEqual(Math.max(takeover, fullWait));
  });

  it("reads a back-off again before a request only after a freeze, so the budget needs no second read", () => {
    expect(BACK_OFF_READ_MAX_AGE_MS).toBeGreaterThanOrEqual(awsCall);
  });

  it("lets a request's deadline cut short only a second flight: a first one fits its takeover window and its full wait", () => {
    const beforeLease = tableCall + awsCall; // the table, then the secret
    const leasedRefresh = awsCall + WORST_REFRESH_MS + awsCall; // acquire, refresh, release
    const pollRound = 1.5 * LEASE_POLL_MS + tableCall + awsCall;
    // The last takeover attempt begins just inside the window; the last poll just inside the wait.
    expect(beforeLease + LEASE_TAKEOVER_MS + leasedRefresh).toBeLessThanOrEqual(WORST_REQUEST_MS);
    expect(beforeLease + LEASE_WAIT_MS + pollRound).toBeLessThanOrEqual(WORST_REQUEST_MS);
  });

  it("remembers a token in the ledger no longer than the table write it runs alongside", () => {
    expect(WORST_REMEMBER_MS).toBeLessThanOrEqual(WORST_TABLE_CALL_MS);
  });

  it("keeps waiting for another holder at least as long as that holder may refresh", () => {
    expect(LEASE_WAIT_MS).toBeGreaterThanOrEqual(WORST_REFRESH_MS);
  });

  it("fits a DELETE, the ledger's read, its revocations with one retry and the ledger's cleanup inside the function timeout", () => {
    const revocationAttempt = awsCall + IDENTITY_ATTEMPT_TIMEOUT_MS; // secret, then one POST
    const ledgerRead = tableCall; // the item, then its data keys at once
    expect(WORST_DELETE_MS).toBeGreaterThanOrEqual(
      tableCall + ledgerRead + 2 * revocationAttempt + awsCall,
    );
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeGreaterThanOrEqual(WORST_DELETE_MS + MARGIN_MS);
  });

  it("times the function out before API Gateway gives up on it", () => {
    expect(FUNCTION_TIMEOUT_SECONDS * 1000).toBeLessThan(API_GATEWAY_TIMEOUT_MS);
  });
});
