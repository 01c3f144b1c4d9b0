/**
 * One piece of work past the memory level, as one object: the profile's slot it began with (its
 * fence: what it finishes is held only while no `DELETE` replaced the slot), when it began, the
 * credentials it currently goes by, and the identities the table has shown it. A refresh, a
 * renewal and a fallback each make one, so every rule about identities, `DELETE`s and the lease
 * holds for all of them.
 *
 * Identity: when the table holds nothing, a token of another identity, or cannot be read, a
 * `DELETE` or a rotation may have happened elsewhere, so credentials read before the work began
 * (or before the `DELETE` the table records) are read again before any decision, and so are
 * credentials not yet read since the table first showed a token of another identity (a rotation
 * elsewhere). Memory is dropped whenever a read of the table answers with anything but the held
 * token: a superseded or deleted token is never served again, not even as a fallback when
 * CyberArk fails. And because a `DELETE` or a rotation can also happen while an exchange is under
 * way, the table refuses a token written over a `DELETE` record the work did not read (such a
 * token, and one whose slot a `DELETE` on this instance replaced, is revoked and never served:
 * `deletion-race.ts`), or over a token of another identity issued after its credentials were read
 * (`admission.ts`; it goes to its caller, but is never held). A `DELETE` is recorded on the
 * profile's own item too, which every scope set's read sees: a token sealed under an earlier
 * record is not served in any set, including a set the `DELETE` did not know of.
 *
 * Before its first token request a scope set takes a place among the profile's live sets
 * (`live-sets.ts`); an ask past the bound is refused with a 503 and a `Retry-After`.
 */
import type { ClientCredentials } from "./credentials.js";
import { deletedSince, refuseRaced } from "./deletion-race.js";
import { honouredDeletion, recordedDeletion, recordedProfileDeletion } from "./deletion-record.js";
import type { TokenExchange } from "./exchange.js";
import type { IssuedTokens } from "./issued-tokens.js";
import { ensurePlace, keepPlace, type LivePlaces, needsPlace } from "./live-places.js";
import type { Clock, Logger } from "./ports.js";
import type { ProfileSlot } from "./profile-slot.js";
import type { ProfileSlots } from "./profile-slots.js";
import type { Profile } from "./profiles.js";
import type { LeaseHold } from "./refresh-lease.js";
import type { TokenRevocation } from "./revocation.js";
import type { ScopeSet } from "./scope-set.js";
import type { TableCache, TableRead } from "./table-cache.js";
import { WORST_EXCHANGE_MS } from "./timing.js";
import { type CachedToken, cacheKey, isUsable } from "./token.js";
import type { VendedToken } from "./vendor-types.js";

/** The levels an attempt works through, shared by every attempt of the instance. */
export interface AttemptParts {
  readonly slots: ProfileSlots;
  readonly table: TableCache;
  readonly exchange: TokenExchange;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The ledger a `DELETE` revokes from: every token obtained is remembered there. */
  readonly issued: IssuedTokens;
  /** Revokes a token obtained while a `DELETE` ran (`deletion-race.ts`). */
  readonly revocation: TokenRevocation;
}

/** One refresh, renewal or fallback of one scope set of one profile. */
export class RefreshAttempt {
  readonly profile: Profile;
  readonly set: ScopeSet;
  /** The slot the work began with: its fence. */
  readonly slot: ProfileSlot;
  /** When the work began (epoch ms). */
  readonly started: number;
  readonly #p: AttemptParts;
  /** The cache keys of the table tokens this work has seen. */
  readonly #seen = new Set<string>();
  /** Whether only this instance counted the set's place (the table could not). */
  #placedLocally = false;

  constructor(parts: AttemptParts, profile: Profile, set: ScopeSet) {
    this.#p = parts;
    this.profile = profile;
    this.set = set;
    this.slot = parts.slots.of(profile, set);
    this.started = parts.clock.now();
  }

  /** The set's slot now (another, when a `DELETE` came since the work began). */
  get current(): ProfileSlot {
    return this.#p.slots.of(this.profile, this.set);
  }

  /** The cache key of the set's tokens obtained with `credentials`. */
  key(credentials: ClientCredentials): string {
    return cacheKey(this.profile, credentials, this.set);
  }

  /** Where the set's place among the profile's live sets is asked (`live-places.ts`). */
  get places(): LivePlaces {
    const { table, clock, logger } = this.#p;
    return { table, clock, logger, shared: this.slot.generation.shared };
  }

  /**
   * Takes (or keeps) the set's place among the profile's live sets before a token request.
   * @throws {UpstreamUnavailableError} when the profile's live sets are at their bound.
   */
  async ensurePlace(read: TableRead): Promise<void> {
    const where = await ensurePlace(this.places, this.profile, this.set, read);
    if (where === "local") this.#placedLocally = true;
  }

  /** Whether the set must ask for a place before a leased refresh, going by `read`. */
  needsPlace(read: TableRead): boolean {
    return needsPlace(this.places, this.profile, this.set, read);
  }

  /** Whether no `DELETE` replaced the slot since the work began. */
  get isCurrent(): boolean {
    return this.#p.slots.isCurrent(this.slot);
  }

  /**
   * Reads the profile's item. One that answers with anything but the token held in memory
   * (nothing: a DELETE; another token: a renewal elsewhere, maybe since deleted too, or a
   * rotation) drops the held one before anything can fall back on it: what the table no longer
   * holds is superseded, and memory must not outlive the table's answer.
   */
  async read(): Promise<TableRead> {
    const read = await this.#p.table.read(this.profile.name, this.set);
    if (read.status === "unavailable") return read;
    const stored = read.status === "hit" ? read.token.accessToken : undefined;
    const { memory } = this.current;
    if (memory.held()?.token.accessToken !== stored) memory.drop();
    return read;
  }

  /**
   * The credentials to judge `read` by, sent at `readAt`. When the table disagrees with the
   * credentials held, they are read again if they were read before the work began or before the
   * DELETE the table records, or if the table shows a token of an identity this work has not seen
   * yet: a rotation may have happened since, and another instance may already hold a token of the
   * new identity. So at most one secret read per table read, and one per identity seen while
   * polling, however long the wait.
   */
  async credentialsFor(read: TableRead, readAt: number): Promise<ClientCredentials> {
    // Credentials read before the DELETE, or before now when it is recorded a little ahead of our
    // clock (nothing later can be read yet). A time later than any DELETE could have recorded is
    // an edit, so it must not make every poll read the secret (our write replaces it anyway).
    const now = this.#p.clock.now();
    const deletedAt = Math.min(honouredDeletion(read, now) ?? 0, now);
    const { credentials } = this.current;
    const held = await credentials.get();
    // An unreadable table cannot tell us of a DELETE or a rotation elsewhere either.
    const disagrees = read.status !== "hit" || read.token.cacheKey !== this.key(held);
    if (!disagrees) return held;
    const unseen = read.status === "hit" && !this.#seen.has(read.token.cacheKey);
    if (read.status === "hit") this.#seen.add(read.token.cacheKey);
    const since = Math.max(unseen ? readAt : this.started, deletedAt);
    return credentials.get({ readSince: since });
  }

  /**
   * A table token of the current identity is held in memory while it is valid at all (a caller
   * with a smaller min_validity may use it), and served when it stays valid for `min`. It counts
   * as confirmed when the read was sent, not when its answer was handled: a Lambda freeze in
   * between must not make an old answer look fresh.
   */
  fromTable(
    stored: CachedToken | undefined,
    credentials: ClientCredentials,
    min: number,
    readAt: number,
  ): VendedToken | undefined {
    if (!stored || stored.cacheKey !== this.key(credentials)) return undefined;
    const now = this.#p.clock.now();
    if (!isUsable(stored, now, 0)) return undefined;
    this.slot.memory.remember(stored, credentials, readAt);
    return isUsable(stored, now, min)
      ? { token: stored, cache: "table", asked: this.set }
      : undefined;
  }

  /**
   * Asks the identity provider (never with less of the lease left than an exchange may take),
   * then stores the token in the table, and in memory unless a DELETE on this instance came
   * meanwhile. A token obtained while a `DELETE` ran (the slot replaced, or the write refused by
   * a `DELETE` record the work did not read) is revoked and not served (`deletion-race.ts`). A
   * token the table refused otherwise is not held (it may be of an identity dropped meanwhile);
   * one whose write failed is held as confirmed when the table was last read,
   * `readAt`: nothing later is known. A back-off the provider asked of any instance holds for
   * all: the exchange reads and records it. `read`: the table read the work decided on; the
   * write carries its `DELETE` records exactly as read (`deletion-record.ts`). A stored token
   * keeps the set's place among the live sets until it expires.
   */
  upstream(
    credentials: ClientCredentials,
    hold: LeaseHold,
    readAt: number,
    read: TableRead,
  ): Promise<CachedToken> {
    // One exchange of the set at a time on this instance, write included (profile-slot.ts).
    return this.current.takeTurn(async () => {
      const { exchange, table, clock, issued } = this.#p;
      const exchanged = await exchange.obtain(this.profile, this.set, credentials, () =>
        hold.ensureLeft(WORST_EXCHANGE_MS),
      );
      // Remembered before the token is served, alongside its table write (no longer than it: see
      // `timing.ts`), so a DELETE can revoke it after a renewal replaced it. Never throws.
      const remembered = issued.remember(this.profile, this.set, exchanged.token);
      if (!this.isCurrent) {
        await remembered;
        return refuseRaced(this.#p, this.profile, exchanged.token, hold);
      }
      const deletionRead = recordedDeletion(read);
      const profileDeletionRead = recordedProfileDeletion(read);
      const writtenAt = clock.now();
      const [written] = await Promise.all([
        table.write(this.profile.name, this.set, exchanged.token, {
          credentialsReadAt: this.slot.credentials.lastReturned(exchanged.credentials),
          ...(deletionRead === undefined ? {} : { deletionRead }),
          ...(profileDeletionRead === undefined ? {} : { profileDeletionRead }),
        }),
        remembered,
      ]);
      // A write that does not show whether a DELETE came meanwhile (a token refused it, or its
      // set was placed only here, maybe unknown to a DELETE elsewhere) is followed by one more
      // read of the profile's record; a DELETE on this instance shows in the slot. (A write the
      // table failed tells nothing, and a read now would most likely fail the same way.)
      const unsure = written === "refused" || (written === "stored" && this.#placedLocally);
      const since = () => deletedSince(table, this.profile, this.set, read, hold);
      if (!this.isCurrent || written === "deleted" || (unsure && (await since()))) {
        return refuseRaced(this.#p, this.profile, exchanged.token, hold);
      }
      if (written !== "refused") {
        // A set placed only here may be one a DELETE elsewhere did not know of: its token,
        // stored but perhaps unservable, counts as confirmed no later than the read.
        const confirmed = written === "stored" && !this.#placedLocally;
        const confirmedAt = confirmed ? writtenAt : readAt;
        this.slot.memory.remember(exchanged.token, exchanged.credentials, confirmedAt);
      }
      // Not awaited: the caller need not wait for it, and it never rejects (table-cache.ts).
      if (written === "stored") {
        void keepPlace(this.places, this.profile, this.set, read, exchanged.token.expiresAt);
      }
      return exchanged.token;
    });
  }
}
