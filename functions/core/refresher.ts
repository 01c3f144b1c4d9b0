/**
 * The miss path: what happens when memory cannot answer. The table first; then, under the
 * cross-instance refresh lease, CyberArk. Renewals (ahead of need, or on the schedule of
 * `prewarm` profiles) take the same path, so every rule about identities, fences and the lease
 * holds for them too.
 *
 * Identity: when the table holds nothing, a token of another identity, or cannot be read, a
 * `DELETE` or a rotation may have happened elsewhere, so credentials read before the work began
 * (or before the `DELETE` the table records) are read again before any decision, and so are
 * credentials that have not yet been read since the table first showed a token of another
 * identity (a rotation elsewhere). Memory is dropped whenever a read of the table answers with
 * anything but the held token: a superseded or deleted token is never served again, not even as
 * a fallback when CyberArk fails. A `DELETE` or a rotation during an exchange makes the table
 * refuse its token (see `TokenStore.put`): it goes to its caller, but is never held.
 */
import type { ClientCredentials, CredentialsCache } from "./credentials.js";
import { honouredDeletion, recordedDeletion } from "./deletion-record.js";
import { UpstreamUnavailableError } from "./errors.js";
import type { TokenExchange } from "./exchange.js";
import { ExchangeTurns } from "./exchange-turns.js";
import type { Fence, MemoryCache } from "./memory-cache.js";
import { METRICS } from "./metrics.js";
import type { Clock, Metrics } from "./ports.js";
import type { Profile } from "./profiles.js";
import type { LeaseHold, RefreshLease } from "./refresh-lease.js";
import type { TableCache, TableRead } from "./table-cache.js";
import { WORST_EXCHANGE_MS, WORST_TABLE_CALL_MS } from "./timing.js";
import {
  type CachedToken,
  cacheKey,
  grantedLifetimeSeconds,
  isDueForRenewal,
  isUsable,
  remainingSeconds,
} from "./token.js";
import type { VendedToken } from "./vendor-types.js";

/** The levels the refresher works through. */
export interface RefresherParts {
  readonly credentials: CredentialsCache;
  readonly memory: MemoryCache;
  readonly table: TableCache;
  readonly lease: RefreshLease;
  readonly exchange: TokenExchange;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

/** The cache keys of the table tokens one piece of work has seen. */
type SeenIdentities = Set<string>;

/** What a scheduled renewal of one profile did. */
export type ScheduledRenewal = "renewed" | "fresh" | "busy";

/** Refreshes tokens past the memory level. One per function instance. */
export class Refresher {
  readonly #p: RefresherParts;
  readonly #turns = new ExchangeTurns();

  constructor(parts: RefresherParts) {
    this.#p = parts;
  }

  /**
   * A token valid for `min` seconds from the table, or from CyberArk under the lease; waiting
   * for another holder, or taking the lease, only as long as it can end by `deadline` (epoch ms).
   */
  async refresh(profile: Profile, min: number, deadline: number): Promise<VendedToken> {
    const { memory, lease } = this.#p;
    const fence = memory.fence(profile.name);
    const started = this.#p.clock.now();
    const read = await this.#read(profile);
    const stored = read.status === "hit" ? read.token : undefined;
    const seen: SeenIdentities = new Set();
    let credentials = await this.#currentCredentials(profile, read, started, started, seen);
    const key = cacheKey(profile, credentials);

    // The table could not confirm or deny what we hold: serve it for a while, unconfirmed.
    const unconfirmed = read.status === "unavailable" && memory.unconfirmed(fence, key, min);
    if (unconfirmed) return { token: unconfirmed, cache: "memory" };
    if (memory.held(profile.name)?.token.cacheKey !== key) memory.drop(profile.name);
    return (
      this.#fromTable(profile, stored, credentials, min, fence, started) ??
      lease.runOrWait(
        profile.name,
        (hold) => this.#underLease(profile, credentials, min, fence, hold, started, seen),
        async () => {
          const polledAt = this.#p.clock.now();
          const polled = await this.#read(profile);
          credentials = await this.#currentCredentials(profile, polled, started, polledAt, seen);
          const token = polled.status === "hit" ? polled.token : undefined;
          return this.#fromTable(profile, token, credentials, min, fence, polledAt);
        },
        deadline,
      )
    );
  }

  /**
   * After CyberArk failed: a recently confirmed token of the current identity that lasts `min`,
   * held in memory, else in the table (which may have recovered since the failed refresh read
   * it), else held by now (another request may have confirmed one meanwhile). The table is read
   * only when its worst read ends by `deadline` (epoch ms): an answer must not come after the
   * function's timeout. Never throws.
   */
  async fallback(
    profile: Profile,
    min: number,
    deadline: number,
  ): Promise<VendedToken | undefined> {
    const { credentials, memory } = this.#p;
    const held = () => {
      const current = credentials.last(profile.secretId);
      const key = current && cacheKey(profile, current);
      const token = key === undefined ? undefined : memory.fallback(profile.name, key, min);
      return token && { token, cache: "memory" as const };
    };
    const fromTable = async () => {
      const readAt = this.#p.clock.now();
      if (readAt + WORST_TABLE_CALL_MS > deadline) return undefined;
      const read = await this.#read(profile);
      const current = credentials.last(profile.secretId);
      if (read.status !== "hit" || !current) return undefined;
      return this.#fromTable(profile, read.token, current, min, memory.fence(profile.name), readAt);
    };
    return held() ?? (await fromTable()) ?? held();
  }

  /** Refresh ahead: renews a token entering its renewal window, unless another instance is. */
  async renewAhead(profile: Profile, min: number): Promise<void> {
    await this.#renew(
      profile,
      "ahead",
      (token) => !isDueForRenewal(token, this.#p.clock.now(), min),
    );
  }

  /** Scheduled renewal: renews a `prewarm` profile whose table token is missing or half spent. */
  async renewOnSchedule(profile: Profile): Promise<ScheduledRenewal> {
    const fresh = (token: CachedToken) =>
      remainingSeconds(token, this.#p.clock.now()) >= grantedLifetimeSeconds(token) / 2;
    return this.#renew(profile, "schedule", fresh);
  }

  async #renew(
    profile: Profile,
    trigger: "ahead" | "schedule",
    stillFresh: (token: CachedToken) => boolean,
  ): Promise<ScheduledRenewal> {
    const { memory, lease } = this.#p;
    const fence = memory.fence(profile.name);
    const started = this.#p.clock.now();
    const run = await lease.tryRun(profile.name, async (hold) => {
      const readAt = this.#p.clock.now();
      const read = await this.#read(profile);
      if (read.status === "unavailable") {
        throw new UpstreamUnavailableError("the token table cannot be read; renewal skipped", 5);
      }
      const credentials = await this.#currentCredentials(profile, read, started, readAt, new Set());
      const stored = read.status === "hit" ? read.token : undefined;
      const current = this.#fromTable(profile, stored, credentials, 0, fence, readAt);
      if (current && stillFresh(current.token)) return "fresh" as const;
      const other = this.#turns.running(profile.name); // a request's exchange: it renews
      if (other) return other.then(() => "busy" as const);
      await this.#upstream(profile, credentials, fence, hold, readAt, recordedDeletion(read));
      this.#p.metrics.add(METRICS.renewals, profile.name, 1, trigger);
      return "renewed" as const;
    });
    return run.ran ? run.value : "busy";
  }

  // Every read of the profile's item goes through here. One that answers with anything but the
  // token held in memory (nothing: a DELETE; another token: a renewal elsewhere, maybe since
  // deleted too, or a rotation) drops the held one before anything can fall back on it: what
  // the table no longer holds is superseded, and memory must not outlive the table's answer.
  async #read(profile: Profile): Promise<TableRead> {
    const read = await this.#p.table.read(profile.name);
    if (read.status === "unavailable") return read;
    const stored = read.status === "hit" ? read.token.accessToken : undefined;
    if (this.#p.memory.held(profile.name)?.token.accessToken !== stored) {
      this.#p.memory.drop(profile.name);
    }
    return read;
  }

  // The credentials to judge `read` by, sent at `readAt` by work begun at `started`. When the
  // table disagrees with the credentials held, they are read again if they were read before the
  // work began or before the DELETE the table records, or if the table shows a token of an
  // identity this work has not seen yet (`seen`): a rotation may have happened since, and another
  // instance may already hold a token of the new identity. So at most one secret read per table
  // read, and one per identity seen while polling, however long the wait.
  async #currentCredentials(
    profile: Profile,
    read: TableRead,
    started: number,
    readAt: number,
    seen: SeenIdentities,
  ): Promise<ClientCredentials> {
    // Credentials read before the DELETE, or before now when it is recorded a little ahead of our
    // clock (nothing later can be read yet). A time later than any DELETE could have recorded is
    // an edit, so it must not make every poll read the secret (our write replaces it anyway).
    const now = this.#p.clock.now();
    const deletedAt = Math.min(honouredDeletion(read, now) ?? 0, now);
    const credentials = await this.#p.credentials.get(profile.secretId);
    // An unreadable table cannot tell us of a DELETE or a rotation elsewhere either.
    const disagrees =
      read.status !== "hit" || read.token.cacheKey !== cacheKey(profile, credentials);
    if (!disagrees) return credentials;
    const unseen = read.status === "hit" && !seen.has(read.token.cacheKey);
    if (read.status === "hit") seen.add(read.token.cacheKey);
    const since = Math.max(unseen ? readAt : started, deletedAt);
    return this.#p.credentials.get(profile.secretId, { readSince: since });
  }

  // Another refresh may have ended, or a rotation or a DELETE come, since our read: read again.
  async #underLease(
    profile: Profile,
    known: ClientCredentials,
    min: number,
    fence: Fence,
    hold: LeaseHold,
    started: number,
    seen: SeenIdentities,
    afterOther = false,
  ): Promise<VendedToken> {
    const readAt = this.#p.clock.now();
    const read = await this.#read(profile);
    const stored = read.status === "hit" ? read.token : undefined;
    const agrees = stored?.cacheKey === cacheKey(profile, known);
    const credentials = agrees
      ? known
      : await this.#currentCredentials(profile, read, started, readAt, seen);
    const served = this.#fromTable(profile, stored, credentials, min, fence, readAt);
    if (served) return served;
    const other = this.#turns.running(profile.name); // exchange-turns.ts: wait, then read again
    if (other && afterOther) throw new UpstreamUnavailableError("refreshing elsewhere", 1);
    const again = () =>
      this.#underLease(profile, credentials, min, fence, hold, started, seen, true);
    if (other) return other.then(again);
    // A DELETE record is read only on a miss, and then the credentials were read after it.
    const deletionRead = recordedDeletion(read);
    const token = await this.#upstream(profile, credentials, fence, hold, readAt, deletionRead);
    // A slow exchange of a short-lived token can end after the token is of no use to the caller.
    if (!isUsable(token, this.#p.clock.now(), min)) {
      throw new UpstreamUnavailableError("CyberArk granted a token too short-lived to serve", 1);
    }
    return { token, cache: "upstream" };
  }

  // A table token of the current identity is held in memory while it is valid at all (a caller
  // with a smaller min_validity may use it), and served when it stays valid for `min`. It counts
  // as confirmed when the read was sent, not when its answer was handled: a Lambda freeze in
  // between must not make an old answer look fresh.
  #fromTable(
    profile: Profile,
    stored: CachedToken | undefined,
    credentials: ClientCredentials,
    min: number,
    fence: Fence,
    readAt: number,
  ): VendedToken | undefined {
    if (!stored || stored.cacheKey !== cacheKey(profile, credentials)) return undefined;
    const now = this.#p.clock.now();
    if (!isUsable(stored, now, 0)) return undefined;
    this.#p.memory.remember(fence, stored, credentials, readAt);
    return isUsable(stored, now, min) ? { token: stored, cache: "table" } : undefined;
  }

  // Asks CyberArk (never with less of the lease left than an exchange may take), then stores the
  // token in the table, and in memory unless a DELETE here came meanwhile. A refused token is not
  // held (maybe of an identity dropped since); one whose write failed counts as confirmed at `readAt`.
  #upstream(
    profile: Profile,
    credentials: ClientCredentials,
    fence: Fence,
    hold: LeaseHold,
    readAt: number,
    deletionRead: number | undefined,
  ): Promise<CachedToken> {
    // One exchange of the profile at a time on this instance, write included (exchange-turns.ts).
    return this.#turns.run(profile.name, async () => {
      // A back-off CyberArk asked of any instance holds for all: the exchange reads and records it.
      const { exchange, table, clock } = this.#p;
      const exchanged = await exchange.obtain(profile, credentials, () =>
        hold.ensureLeft(WORST_EXCHANGE_MS),
      );
      if (!this.#p.memory.isCurrent(fence)) return exchanged.token;
      const writtenAt = clock.now();
      const written = await table.write(profile.name, exchanged.token, {
        credentialsReadAt: this.#p.credentials.readAt(profile.secretId, exchanged.credentials),
        ...(deletionRead === undefined ? {} : { deletionRead }),
      });
      if (written !== "refused") {
        const confirmedAt = written === "stored" ? writtenAt : readAt;
        this.#p.memory.remember(fence, exchanged.token, exchanged.credentials, confirmedAt);
      }
      return exchanged.token;
    });
  }
}
