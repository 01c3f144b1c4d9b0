/**
 * The timing budget: every duration the service depends on, in one place, with the ones that must
 * fit together derived from the others. `test/unit/timing.test.ts` proves the inequalities:
 *
 * - the worst refresh (table read, a secret read, exchange with all its attempts and backoffs,
 *   the secret read and the rotation retry, table write) ends before the refresh lease does, so
 *   a live holder never loses its lease mid-exchange and no second instance asks CyberArk
 *   meanwhile;
 * - the worst request (secret read, table read, the takeover window, a whole refresh, or a full
 *   wait for another holder) ends before the function times out;
 * - the function times out before API Gateway gives up on it (29 s), so a caller always gets the
 *   function's own answer.
 *
 * Change a number here and the test tells whether the rest still fits. Nothing else in the
 * repository states these durations; adapters, the core and the stack import them.
 */

/** One HTTP attempt at CyberArk's token endpoint, connection included. */
export const IDENTITY_ATTEMPT_TIMEOUT_MS = 1_500;
/** Attempts per exchange, the first included. */
export const IDENTITY_MAX_ATTEMPTS = 3;
/** Longest wait between two attempts (jittered backoff, or the tenant's short `Retry-After`). */
export const IDENTITY_MAX_BACKOFF_MS = 250;

/** One exchange with CyberArk at its worst: every attempt times out, every backoff is maximal. */
export const WORST_EXCHANGE_MS =
  IDENTITY_MAX_ATTEMPTS * IDENTITY_ATTEMPT_TIMEOUT_MS +
  (IDENTITY_MAX_ATTEMPTS - 1) * IDENTITY_MAX_BACKOFF_MS;

/**
 * Connection and request timeout of each attempt of the deployed function's AWS SDK clients
 * (Secrets Manager, DynamoDB, KMS). Their usual latency is a few milliseconds to tens of them.
 */
export const AWS_ATTEMPT_TIMEOUT_MS = 500;
/** Attempts per AWS SDK call, the first included. */
export const AWS_MAX_ATTEMPTS = 2;
/**
 * The longest pause before a retry of an AWS SDK call. The deployed clients' retry strategy
 * (`CappedRetryStrategy`) holds to it for every kind of error: the SDK's standard strategy may
 * wait a second before retrying a throttling error, and longer when the service hints one.
 */
export const AWS_MAX_BACKOFF_MS = 200;
/** One AWS SDK call at its worst. */
export const WORST_AWS_CALL_MS =
  AWS_MAX_ATTEMPTS * AWS_ATTEMPT_TIMEOUT_MS + (AWS_MAX_ATTEMPTS - 1) * AWS_MAX_BACKOFF_MS;
/** A table read or write at its worst: the item, then KMS for its data key. */
export const WORST_TABLE_CALL_MS = 2 * WORST_AWS_CALL_MS;

/** Slack for the scheduler, the event loop and clock drift between instances. */
export const MARGIN_MS = 1_500;

/**
 * What follows an answer from CyberArk: the ledger remembers the token, then the token's
 * conditional write (each a table call with its KMS data key).
 */
export const WORST_AFTER_ANSWER_MS = 2 * WORST_TABLE_CALL_MS;

/**
 * How much of its lease a holder must still have to send an attempt (the guard checks it before
 * EVERY attempt, `profile-record.ts` `mayAsk`): the attempt, the writes after its answer, and the
 * margin. So a holder never has a request in flight, nor a write to make, after its lease ended.
 */
export const ATTEMPT_LEASE_NEED_MS =
  IDENTITY_ATTEMPT_TIMEOUT_MS + WORST_AFTER_ANSWER_MS + MARGIN_MS;

/**
 * What the holder of the refresh lease does at its worst without a rotation retry: per attempt,
 * the guard's read of the record and the attempt (with the backoffs between), then the ledger and
 * the token's write. With a rotation retry (read the secret again, exchange again), attempts that
 * would end past the lease are not sent ({@link ATTEMPT_LEASE_NEED_MS}): the request gets a 503.
 */
export const WORST_REFRESH_MS =
  IDENTITY_MAX_ATTEMPTS * WORST_AWS_CALL_MS + WORST_EXCHANGE_MS + WORST_AFTER_ANSWER_MS;

/**
 * How long the refresh lease is held: the worst refresh, the secret read and the first attempt of
 * a rotation retry, and the margin. No holder uses it longer (see {@link ATTEMPT_LEASE_NEED_MS}).
 */
export const LEASE_MS = 19_000;

/**
 * How long into its wait a caller may still take a dead holder's lease over and refresh itself.
 * Later it only polls, so that its own refresh still ends inside the function timeout.
 */
export const LEASE_TAKEOVER_MS = 2_000;

/**
 * How long a caller keeps polling the table for another instance's refresh before answering 503:
 * as long as that holder may hold its lease. (Its last poll, begun just before, is counted in
 * {@link WORST_REQUEST_MS}.)
 */
export const LEASE_WAIT_MS = LEASE_MS;

/** Mean interval between polls of the table while another instance refreshes. */
export const LEASE_POLL_MS = 150;

/** The longest pause between two polls: the mean, jittered by up to half either way. */
export const LEASE_POLL_MAX_MS = 1.5 * LEASE_POLL_MS;

/** One poll at its worst: read the table, then the secret (the table disagrees). */
export const WORST_POLL_MS = WORST_TABLE_CALL_MS + WORST_AWS_CALL_MS;

/** What a request does before it turns to the lease, at its worst: read the table, then the secret. */
export const WORST_BEFORE_LEASE_MS = WORST_TABLE_CALL_MS + WORST_AWS_CALL_MS;

/**
 * A refresh under the lease at its worst, from taking the lease (and the set's place) with one
 * conditional write to the token's write, which gives the lease back.
 */
export const WORST_LEASED_REFRESH_MS = WORST_AWS_CALL_MS + LEASE_MS;
/** One round of waiting for another holder at its worst: the longest pause, then a poll. */
export const WORST_POLL_ROUND_MS = LEASE_POLL_MAX_MS + WORST_POLL_MS;

/**
 * A request at its worst before it answers: read the table and the secret, then either take the
 * lease over within the takeover window and refresh (acquire, refresh, release), or wait the full
 * lease wait, then one more pause and poll (begun just before the wait ran out). Every request
 * has this long from its start (its deadline): a step that cannot end by then is not begun, so a
 * request that must start a second flight (its joined flight's token was too short for it) waits
 * or takes the lease over only as long as its deadline allows; after a failure, the fallback reads
 * the table again only when that read still ends by then.
 */
export const WORST_REQUEST_MS =
  WORST_BEFORE_LEASE_MS +
  Math.max(LEASE_TAKEOVER_MS + WORST_LEASED_REFRESH_MS, LEASE_WAIT_MS + WORST_POLL_ROUND_MS);

/**
 * Remembering a token in the ledger of issued tokens (`ledger.ts`): sealing it, and the ledger's
 * write, before the token's own write ({@link WORST_AFTER_ANSWER_MS} counts it).
 */
export const WORST_REMEMBER_MS = WORST_TABLE_CALL_MS;

/**
 * Revoking one token at its worst: twice at most, each time reading the secret and making one
 * attempt at CyberArk.
 */
export const WORST_REVOCATION_MS = 2 * (WORST_AWS_CALL_MS + IDENTITY_ATTEMPT_TIMEOUT_MS);

/**
 * How many times a `DELETE` writes at most: again only when, after its ledger read, the item shows
 * another life than its write's (it was frozen past the item's keep; `deletion.ts`).
 */
export const DELETE_ROUNDS = 2;

/**
 * A `DELETE` at its worst: per round, its one write to the profile's record (then KMS, to open the
 * tokens it dropped), the ledger's read after it (the item, then KMS for the data keys of at most
 * its bound's worth of entries, all at once) and the item's read again; then every revocation at
 * once, twice at most, each time reading the secret and making one attempt at CyberArk, and the
 * ledger's cleanup.
 */
export const WORST_DELETE_MS =
  DELETE_ROUNDS * (WORST_TABLE_CALL_MS + WORST_TABLE_CALL_MS + WORST_AWS_CALL_MS) +
  WORST_REVOCATION_MS +
  WORST_AWS_CALL_MS;

/** The Lambda function's timeout, in seconds (the stack sets it from here). */
export const FUNCTION_TIMEOUT_SECONDS = Math.ceil((WORST_REQUEST_MS + MARGIN_MS) / 1000);

/** API Gateway's integration timeout for REST APIs: the function must answer before it. */
export const API_GATEWAY_TIMEOUT_MS = 29_000;

/**
 * How often a memory entry is checked against the table, so a `DELETE` on any instance reaches
 * every warm instance within 30 seconds.
 */
export const MEMORY_RECHECK_MS = 30_000;

/**
 * After a recheck that could not read the table, how soon the table is tried again. Meanwhile the
 * held token is served, but a failed read never counts as a confirmation.
 */
export const UNCONFIRMED_RETRY_MS = 2_000;

/**
 * How long a held token may go without the table confirming it before memory stops serving it:
 * the instance then asks CyberArk (a token deleted elsewhere dies with it), and serves the held
 * token only if CyberArk fails too.
 */
export const MAX_UNCONFIRMED_MS = 2 * MEMORY_RECHECK_MS;

/** The longest back-off CyberArk may ask for that is honoured (its `Retry-After`, capped). */
export const MAX_BACK_OFF_MS = 300_000;

/** How long a rejection by CyberArk is remembered, so a broken profile does not hammer the tenant. */
export const REJECTION_MEMORY_MS = 10_000;

/** After a failed background renewal, how long before the next attempt. */
export const RENEWAL_RETRY_MS = 5_000;

/** How long credentials stay in memory before Secrets Manager is read again. */
export const CREDENTIALS_MAX_AGE_MS = 5 * 60_000;
