/**
 * The exchange under the set's lease, top to bottom (the rules are `profile-record.ts`'s):
 *
 * 1. Before EVERY attempt at CyberArk (retries and the rotation retry included: the identity
 *    client asks the guard) the record is read again, and the attempt is sent only while this
 *    work still holds the lease with an attempt's time left, no back-off lasts, the record is
 *    the life (incarnation, epoch) the credentials were read under, and they are younger than
 *    `CREDENTIALS_MAX_AGE_MS`. A read that took longer than
 *    any AWS call means a freeze: it is read again. So a frozen instance that thaws sends nothing
 *    before it has checked. Nothing is awaited between the guard's answer and the send.
 * 2. The answer is remembered in the ledger FIRST (its expiry counted from its arrival), then
 *    written with one conditional write on the record the guard last read, which also releases
 *    the lease. A write that lost a race reads again and decides again; one the record refuses
 *    (another epoch or life: a `DELETE` came) means the token is revoked and never served.
 * 3. A back-off CyberArk asked for is written to the record (releasing the lease in the same
 *    write), so every instance holds back; any other failure releases the lease.
 *
 * When the table fails the work fails open: the lease it had ends when it would have, and the
 * token is held in memory only, confirmed no later than the last read.
 */

import { mayAsk } from "./attempt-guard.js";
import type { ClientCredentials } from "./credentials.js";
import { UpstreamUnavailableError } from "./errors.js";
import type { TokenExchange } from "./exchange.js";
import type { Ledger } from "./ledger.js";
import type { Clock, Logger } from "./ports.js";
import { backOff, releaseLease, writeToken } from "./profile-record.js";
import { type Reading, type SharedRecords, stampOf } from "./records.js";
import { backingOff, leaseBusy, raced, stale } from "./refusals.js";
import {
  ATTEMPT_LEASE_NEED_MS,
  CREDENTIALS_MAX_AGE_MS,
  MARGIN_MS,
  MEMORY_RECHECK_MS,
  WORST_AWS_CALL_MS,
  WORST_REVOCATION_MS,
} from "./timing.js";
import { type CachedToken, tokenFingerprint } from "./token.js";
import type { Hold, LeasedRunner, Work } from "./work.js";

/** What the leased exchanges of an instance share. */
export interface LeasedParts {
  readonly records: SharedRecords;
  readonly exchange: TokenExchange;
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly logger: Logger;
}

// Rounds of a write that lost races: each is cheap, and up to 8 sets write to the one item.
const LOST_RACES = 16;
const FROZEN_READS = 3;

/** Runs exchanges under leases. One per function instance. */
export class LeasedExchange implements LeasedRunner {
  readonly #p: LeasedParts;

  constructor(parts: LeasedParts) {
    this.#p = parts;
  }

  /**
   * Obtains the set's token under `hold` with `credentials`, writes it and holds it in memory.
   * @throws {UpstreamUnavailableError} when a guard refused an attempt, CyberArk failed, or a
   * `DELETE` came meanwhile (the token is then revoked).
   */
  run(work: Work, credentials: ClientCredentials, hold: Hold): Promise<CachedToken> {
    // One exchange of the set at a time on this instance, write included (`profile-slot.ts`).
    return work.current.takeTurn(async () => {
      const { clock, exchange, ledger, records } = this.#p;
      let last = hold.reading;
      const guard = async (_attempt: number, used: ClientCredentials) => {
        last = await this.#check(work, hold);
        // Credentials read before a DELETE fit "no item" again once the item vanished after it:
        // none older than the item outlives a DELETE by is sent (CREDENTIALS_MAX_AGE_MS).
        const readAt = work.current.credentials.readAt(used) ?? Number.NEGATIVE_INFINITY;
        if (clock.now() - readAt >= CREDENTIALS_MAX_AGE_MS) throw stale();
      };
      // An answer that cannot be used: remembered and revoked like a raced token, never served.
      const discard = async (token: CachedToken) => {
        const entry = { asked: work.set, token, ...hold.stamp, expiresAt: token.expiresAt };
        await ledger.remember(work.profile, entry);
        const fields = {
          profile: work.profile.name,
          tokenSha256: tokenFingerprint(token.accessToken),
        };
        this.#p.logger.warn("token CyberArk answered cannot be used; not served, revoked", fields);
        const revoking = ledger.revokeRaced(work.profile, token, () =>
          work.current.credentials.get(),
        );
        if (hold.until - clock.now() >= WORST_REVOCATION_MS + MARGIN_MS) await revoking;
      };
      let exchanged: Awaited<ReturnType<TokenExchange["obtain"]>>;
      try {
        exchanged = await exchange.obtain(work.profile, work.set, credentials, guard, discard);
      } catch (error) {
        await this.#finish(work, hold, error);
        throw error;
      }
      const { token } = exchanged;
      const arrivedAt = clock.now();
      const lifetime = token.expiresAt - token.issuedAt;
      const entry = { asked: work.set, token, ...hold.stamp, expiresAt: arrivedAt + lifetime };
      await ledger.remember(work.profile, entry);
      const writtenAt = clock.now();
      const written = hold.open
        ? await this.#afterOpen(work, exchanged.credentials)
        : await this.#write(work, hold, token, last);
      // Refused by a DELETE, or not written while a DELETE ran here: revoked, never served. One
      // written before a DELETE here is that DELETE's to drop and revoke; so is one whose write
      // landed though its answer was lost (the table shows it): the table serves it.
      const shown = () => records.shownAt(work.profile.name, work.tag, token);
      const lost = written === "failed" && !work.isCurrent && (await shown()) === undefined;
      if (written === "deleted" || lost) {
        // Platform tokens cannot be revoked: not served is all there is. The revocation is
        // waited for while the lease leaves room for its worst; otherwise it goes on alone.
        const revocable = ledger.revocable(work.profile);
        this.#p.logger.warn(
          revocable
            ? "token obtained while a DELETE of the profile ran; revoked, not served"
            : "token obtained while a DELETE of the profile ran; not served (the profile's tokens cannot be revoked)",
          { profile: work.profile.name, tokenSha256: tokenFingerprint(token.accessToken) },
        );
        const credentials = () => work.current.credentials.get();
        const revoking = ledger.revokeRaced(work.profile, token, credentials);
        const finishing = this.#finish(work, hold, undefined);
        if (hold.until - clock.now() >= WORST_REVOCATION_MS + MARGIN_MS) await revoking;
        await finishing;
        throw raced();
      }
      if (!work.isCurrent) throw raced();
      if (written === "kept") return token; // served, not held: the table holds another
      if (written === "failed") {
        this.#p.logger.warn("token table write failed; token served from memory only", {
          profile: work.profile.name,
        });
      }
      let confirmedAt = written === "written" ? writtenAt : (last?.at ?? work.started);
      // Stalled past the memory bound since the table last showed it: the table decides again.
      if (clock.now() - confirmedAt >= MEMORY_RECHECK_MS) {
        const shownAt = await shown();
        if (shownAt === undefined) throw leaseBusy("the table no longer holds the token obtained");
        confirmedAt = shownAt;
      }
      work.slot.memory.remember(token, exchanged.credentials, confirmedAt, hold.stamp);
      return token;
    });
  }

  // The guard before one attempt: the read it went by, or undefined when the table failed and
  // the work goes by the lease it had (failing open).
  async #check(work: Work, hold: Hold): Promise<Reading | undefined> {
    const { records, clock, exchange } = this.#p;
    for (let read = 1; ; read += 1) {
      const reading = await records.read(work.profile.name);
      const now = clock.now();
      if (!reading) {
        if (hold.until > now + ATTEMPT_LEASE_NEED_MS) return undefined;
        throw leaseBusy("the refresh lease that failed open has too little time left");
      }
      if (reading.took > WORST_AWS_CALL_MS) {
        // Frozen or stalled on the way: what it shows may be old. Read again, a few times.
        if (read < FROZEN_READS) continue;
        throw leaseBusy("the record could not be read fresh enough to send an attempt");
      }
      const { record } = reading;
      void work.observe(reading); // what the read shows of the held token (never rejects)
      if (hold.open) {
        // The table is back: honour its back-off and a live lease of another, write nothing.
        const lease = record.sets.get(work.tag)?.lease;
        if (record.backOffUntil > now) exchange.holdBack(work.profile, record.backOffUntil);
        if (record.backOffUntil > now) throw backingOff(record.backOffUntil, now);
        if ((lease?.until ?? 0) > now || hold.until <= now + ATTEMPT_LEASE_NEED_MS) {
          throw leaseBusy("the refresh lease that failed open is held elsewhere or ends");
        }
        return undefined;
      }
      const needMs = ATTEMPT_LEASE_NEED_MS;
      const ask = { tag: work.tag, owner: hold.owner, ...hold.stamp, now, needMs };
      const refusal = mayAsk(record, ask);
      if (refusal === undefined) return reading;
      if (refusal === "backing-off") {
        exchange.holdBack(work.profile, record.backOffUntil);
        throw backingOff(record.backOffUntil, now);
      }
      throw refusal === "deleted"
        ? raced()
        : leaseBusy("the refresh lease passed to another owner, or has too little time left");
    }
  }

  // Writes the token; a lost race (another set's write, normal when many share the item) reads
  // again and decides again while the lease lasts. Still unwritten: the lease is given back.
  async #write(
    work: Work,
    hold: Hold,
    token: CachedToken,
    read: Reading | undefined,
  ): Promise<"written" | "kept" | "deleted" | "failed"> {
    const { records, clock } = this.#p;
    let reading = read;
    // A few rounds whatever the time (a holder thawed past its lease writes as before), more while
    // the lease lasts; every read is decided on, so a DELETE seen in the last one is not missed.
    const more = (race: number) => race < 3 || (race < LOST_RACES && clock.now() < hold.until);
    for (let race = 0; reading; race += 1) {
      const stored = records.store.fresh(work.profile.name, work.tag, token, hold.stamp);
      const write = { tag: work.tag, owner: hold.owner, ...hold.stamp, token: stored };
      const expiresAt = token.expiresAt;
      const decision = writeToken(reading.record, { ...write, expiresAt, placeUntil: expiresAt });
      if (decision.kind === "deleted") return "deleted";
      if (!more(race)) break;
      const done = await records.write(work.profile.name, reading, decision.next);
      if (done === undefined) return "failed";
      // The record kept a token that lasts longer (our lease passed on): ours is not stored.
      if (done)
        return decision.next.sets.get(work.tag)?.token?.token === stored ? "written" : "kept";
      reading = await records.read(work.profile.name);
    }
    if (reading) await this.#finish(work, hold, undefined);
    return "failed";
  }

  // After an exchange that failed open: when the table answers again, a record of another life
  // than the credentials were read under means a DELETE may have come: the token is refused.
  async #afterOpen(work: Work, used: ClientCredentials): Promise<"deleted" | "failed"> {
    const reading = await this.#p.records.read(work.profile.name);
    const tag = work.current.credentials.tagOf(used);
    return reading && tag !== stampOf(reading.record) ? "deleted" : "failed";
  }

  // After a failure: records CyberArk's back-off for every instance, or releases the lease.
  async #finish(work: Work, hold: Hold, error: unknown): Promise<void> {
    const { records, clock } = this.#p;
    const seconds = error instanceof UpstreamUnavailableError ? error.backOffSeconds : undefined;
    const until = seconds === undefined ? undefined : clock.now() + seconds * 1000;
    if (!hold.reading) return; // failed open: nothing of ours in the table
    const release = { tag: work.tag, owner: hold.owner };
    for (let race = 0; race < LOST_RACES; race += 1) {
      const reading = await records.read(work.profile.name);
      if (!reading) return;
      const { record } = reading;
      const next =
        until === undefined
          ? releaseLease(record, work.tag, hold.owner)
          : backOff(record, until, release);
      if (!next || (await records.write(work.profile.name, reading, next)) !== false) return;
    }
  }
}
