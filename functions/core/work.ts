/**
 * One piece of work past the memory level (a refresh, a renewal, a fallback) of one scope set:
 * the slot it began with (its fence: what it finishes is held only while no `DELETE` on this
 * instance replaced the slot), when it began, and the identities the table has shown it.
 *
 * Identity: credentials are tagged with the record's life (incarnation, epoch) read before the
 * secret read began, and read again when the record shows another life, so after "rotate the
 * secret, then DELETE" no token of the old secret is obtained under the new epoch. When the table
 * holds no token of the credentials' identity, or cannot be read, a rotation elsewhere may have
 * happened: credentials read before the work began are read again, and so are credentials not yet
 * read since the table first showed a token of another identity. Memory is dropped whenever a read
 * answers with anything but the held token: what the table no longer holds is never served again.
 */
import type { ClientCredentials } from "./credentials.js";
import type { Clock, StoredToken, TokenStamp } from "./ports.js";
import type { ProfileRecord } from "./profile-record.js";
import type { ProfileSlot, ProfileSlots } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import { type Reading, type SharedRecords, stampOf } from "./records.js";
import { type ScopeSet, setTag } from "./scope-set.js";
import { WORST_TABLE_CALL_MS } from "./timing.js";
import { type CachedToken, cacheKey, isUsable } from "./token.js";
import type { VendedToken } from "./vendor-types.js";

/** The stamp of the life a record shows (an item not yet created: no incarnation). */
export function lifeOf(record: ProfileRecord<StoredToken>): TokenStamp & { incarnation?: string } {
  return { incarnation: record.incarnation ?? "", epoch: record.epoch };
}

/** What work is done with. */
export interface WorkParts {
  readonly slots: ProfileSlots;
  readonly records: SharedRecords;
  readonly clock: Clock;
}

/** What a work holds: its lease (`reading` undefined: failed open) and the life it read. */
export interface Hold {
  readonly owner: string;
  /** When the lease ends (epoch ms). */
  readonly until: number;
  readonly stamp: TokenStamp;
  /** The last read of the record; undefined while the table fails. */
  readonly reading: Reading | undefined;
  /** The lease failed open (the table failed): it is only this instance's. */
  readonly open?: true;
}

/** Obtains a work's token under its lease (`leased-exchange.ts`). */
export interface LeasedRunner {
  run(work: Work, credentials: ClientCredentials, hold: Hold): Promise<CachedToken>;
}

/** One refresh, renewal or fallback of one scope set of one profile. */
export class Work {
  readonly profile: Profile;
  readonly set: ScopeSet;
  /** The set's name in the record. */
  readonly tag: string;
  /** The slot the work began with: its fence. */
  readonly slot: ProfileSlot;
  /** When the work began (epoch ms). */
  readonly started: number;
  readonly #slots: ProfileSlots;
  readonly #records: SharedRecords;
  readonly #clock: Clock;
  /** The cache keys of the table tokens this work has seen. */
  readonly #seen = new Set<string>();

  constructor(
    parts: { slots: ProfileSlots; records: SharedRecords; clock: Clock },
    profile: Profile,
    set: ScopeSet,
  ) {
    this.#slots = parts.slots;
    this.#records = parts.records;
    this.#clock = parts.clock;
    this.profile = profile;
    this.set = set;
    this.tag = setTag(set);
    this.slot = parts.slots.of(profile, set);
    this.started = parts.clock.now();
  }

  /** The set's slot now (another, when a `DELETE` came since the work began). */
  get current(): ProfileSlot {
    return this.#slots.of(this.profile, this.set);
  }

  /** Whether no `DELETE` replaced the slot since the work began. */
  get isCurrent(): boolean {
    return this.#slots.isCurrent(this.slot);
  }

  /** The cache key of the set's tokens obtained with `credentials`. */
  key(credentials: ClientCredentials): string {
    return cacheKey(this.profile, credentials, this.set);
  }

  /**
   * Reads the record and opens the set's servable token. Memory holding another token (or one
   * when the table holds none) is dropped. `undefined`: the table could not be read.
   */
  async read(): Promise<{ reading: Reading; stored: CachedToken | undefined } | undefined> {
    const reading = await this.#records.read(this.profile.name);
    return reading && { reading, stored: await this.observe(reading) };
  }

  /**
   * What `reading` shows of the set's token, opened; memory holding the same token counts as
   * confirmed when the read was sent, memory holding another is dropped.
   */
  async observe(reading: Reading): Promise<CachedToken | undefined> {
    const stored = await this.#records.token(this.profile.name, reading, this.tag);
    const { memory } = this.current;
    const held = memory.held()?.token.accessToken;
    if (held !== undefined && held === stored?.accessToken) memory.confirm(held, reading.at);
    else if (held !== undefined) memory.drop();
    return stored;
  }

  /** The credentials to judge a read by (`undefined`: the table could not be read). */
  async credentialsFor(
    read: { reading: Reading; stored: CachedToken | undefined } | undefined,
  ): Promise<ClientCredentials> {
    const { credentials } = this.current;
    const stamp = read && stampOf(read.reading.record);
    const held = await credentials.get(stamp === undefined ? {} : { stamp });
    const stored = read?.stored;
    if (stored?.cacheKey === this.key(held)) return held;
    const unseen = stored !== undefined && !this.#seen.has(stored.cacheKey);
    if (stored) this.#seen.add(stored.cacheKey);
    const since = unseen && read ? read.reading.at : this.started;
    return credentials.get({ readSince: since, ...(stamp === undefined ? {} : { stamp }) });
  }

  /**
   * A table token of the current identity is held in memory while it is valid at all (a caller
   * with a smaller min_validity may use it), and served when it stays valid for `min`. It counts
   * as confirmed when the read was sent, not when its answer was handled: a freeze in between
   * must not make an old answer look fresh.
   */
  fromTable(
    read: { reading: Reading; stored: CachedToken | undefined },
    credentials: ClientCredentials,
    min: number,
  ): VendedToken | undefined {
    const { stored, reading } = read;
    if (!stored || stored.cacheKey !== this.key(credentials)) return undefined;
    const now = this.#clock.now();
    if (!isUsable(stored, now, 0)) return undefined;
    this.slot.memory.remember(stored, credentials, reading.at, lifeOf(reading.record));
    return isUsable(stored, now, min)
      ? { token: stored, cache: "table", asked: this.set }
      : undefined;
  }
}

/**
 * After CyberArk failed: a recently confirmed token of the current identity that lasts `min`,
 * held in memory, else in the table (which may have recovered since the failed refresh read
 * it), else held by now. The table is read only when its worst read ends by `deadline`.
 * Never throws.
 */
export async function fallback(
  parts: WorkParts,
  profile: Profile,
  set: ScopeSet,
  min: number,
  deadline: number,
): Promise<VendedToken | undefined> {
  const held = () => {
    const { credentials, memory } = parts.slots.of(profile, set);
    const current = credentials.last();
    const work = new Work(parts, profile, set);
    const token = current && memory.fallback(work.key(current), min);
    return token ? { token, cache: "memory" as const, asked: set } : undefined;
  };
  const fromTable = async () => {
    if (parts.clock.now() + WORST_TABLE_CALL_MS > deadline) return undefined;
    const work = new Work(parts, profile, set);
    const read = await work.read();
    const current = work.current.credentials.last();
    return read && current ? work.fromTable(read, current, min) : undefined;
  };
  return held() ?? (await fromTable()) ?? held();
}
