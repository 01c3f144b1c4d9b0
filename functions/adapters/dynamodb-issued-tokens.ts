/**
 * The ledger of issued tokens in the token table: one item per profile, `issued#<profile>`, whose
 * `tokens` map holds one sealed entry per token (`sealed-issued-token.ts`), keyed by a random id.
 *
 * Concurrency: an entry is added, and entries known to have expired are removed, in one
 * `UpdateItem` that names only its own map keys, so writers on any number of instances never
 * overwrite each other's entries: nothing is read and written back. Each instance keeps the ids
 * and expiries it saw in its last answer from the item (its view) and prunes those that have
 * expired on its next write; a cold instance learns the item from its first write.
 *
 * Bounds: at most `ISSUED_TOKENS_KEPT` (50) entries (checked in the same update's condition), and
 * DynamoDB's 400 KB per item. A sealed entry of a usual CyberArk token (1 to 2 KB) takes 2 to 3 KB,
 * so the count is the bound that bites. A token that does not fit is not remembered: the store
 * answers `full`, and the token is served anyway (see `core/issued-tokens.ts`).
 *
 * Entries carry the `incarnation` and `epoch` of the profile's record their writer read, and an
 * expiry counted from when CyberArk's answer arrived (it errs long: a `DELETE` must not forget a
 * token CyberArk still honours). That expiry is also a plaintext hint, used only to prune. The
 * item's `ttl` is set a token's longest lifetime past the entry's expiry on every write, so
 * DynamoDB never deletes an item holding a live entry.
 */
import { randomBytes } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { IssuedTokenStore, LedgerEntry, LedgerRead, Logger } from "../core/ports.js";
import { WORST_REMEMBER_MS } from "../core/timing.js";
import { readLedger } from "./issued-ledger-reads.js";
import {
  addEntry,
  ISSUED_TOKENS_KEPT,
  issuedItemKey,
  ledgerTtl,
  removeEntries,
  startLedger,
  TOKENS,
} from "./issued-ledger-updates.js";
import { entryExpiryHint, sealIssuedEntry } from "./sealed-issued-token.js";
import type { TokenCipher } from "./token-cipher.js";
import { TOKEN_TABLE_SCHEMA } from "./token-table.js";

const { partitionKey } = TOKEN_TABLE_SCHEMA;
// Expired entries removed by one write: keeps the expression small; the rest go with the next.
const PRUNED_PER_WRITE = 20;
// A write that lost a race (the item was created meanwhile, or an entry it meant to prune was
// pruned by another instance) is tried again with what the failure showed.
const ADD_ATTEMPTS = 3;
// What a `forget` prunes besides the ids it is given (revoked: at most the bound's worth): all
// the entries a read found not to open, within the bound. Both together keep the expression
// within DynamoDB's 4 KB.
const PRUNED_PER_FORGET = ISSUED_TOKENS_KEPT;
// Views are kept per profile; the bound only guards against names that are not profiles.
const VIEWS_KEPT = 256;
// A view's mark for an entry that does not open: pruned first, like an expired entry.
const DOES_NOT_OPEN = Number.NEGATIVE_INFINITY;

type View = Map<string, number | undefined>;

/** The ledger of issued tokens in DynamoDB. */
export class DynamoDbIssuedTokens implements IssuedTokenStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #cipher: TokenCipher;
  readonly #logger: Logger;
  /** Profile -> entry id -> expiry hint, as this instance last saw the item. */
  readonly #views = new Map<string, View>();

  constructor(client: DynamoDBClient, tableName: string, cipher: TokenCipher, logger: Logger) {
    this.#client = client;
    this.#tableName = tableName;
    this.#cipher = cipher;
    this.#logger = logger;
  }

  async remember(
    profile: string,
    remembered: LedgerEntry,
    now: number,
  ): Promise<"remembered" | "full"> {
    // No longer than a table write at its worst: it runs alongside one (see `timing.ts`).
    const abortSignal = AbortSignal.timeout(WORST_REMEMBER_MS);
    const key = issuedItemKey(profile);
    const id = randomBytes(12).toString("base64url");
    const entry = await sealIssuedEntry(this.#cipher, key, id, remembered);
    const added = { id, entry, ttl: ledgerTtl(now, remembered.expiresAt) };
    for (let attempt = 1; attempt <= ADD_ATTEMPTS; attempt += 1) {
      const pruned = this.#expired(profile, now);
      try {
        const input = addEntry(this.#tableName, key, added, pruned);
        const output = await this.#client.send(new UpdateItemCommand(input), { abortSignal });
        this.#see(profile, output.Attributes);
        return "remembered";
      } catch (error) {
        if (isTooLarge(error)) return "full";
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        if (error.Item?.[TOKENS]?.M === undefined) {
          // No ledger yet (or not one this code wrote): start it with this entry.
          if (await this.#start(key, added, abortSignal)) {
            this.#see(profile, { [TOKENS]: { M: { [id]: entry } } });
            return "remembered";
          }
          // It exists after all: started meanwhile, or the store did not show the item with its
          // refusal (DynamoDB-compatible stores may not). Look, and prune what shows as expired.
          this.#see(profile, await this.#read(key, abortSignal));
        } else {
          // Full, or an entry it meant to prune was gone: go again unless the item shows it full
          // of live entries.
          this.#see(profile, error.Item);
          const shown = Object.keys(error.Item[TOKENS]?.M ?? {}).length;
          if (shown >= ISSUED_TOKENS_KEPT && this.#expired(profile, now).length === 0)
            return "full";
        }
      }
    }
    return "full";
  }

  /**
   * The entries, opening at most the bound's worth (see `issued-ledger-reads.ts`), expired ones
   * included (the core decides). Entries that do not open are marked in this instance's view, so
   * the `forget` that follows (and the next write) removes them: junk cannot keep the ledger full.
   */
  async live(profile: string, _now: number): Promise<LedgerRead> {
    const key = issuedItemKey(profile);
    const item = await this.#read(key);
    this.#see(profile, item);
    const read = await readLedger(this.#cipher, key, Object.entries(item?.[TOKENS]?.M ?? {}));
    const { unopened, unreadable, beyondBound } = read;
    if (beyondBound > 0) {
      this.#logger.warn("token ledger holds more entries than its bound; opened only the newest", {
        profile,
        skipped: beyondBound,
      });
    }
    if (unopened.length > 0) {
      this.#logger.warn("token ledger entries do not open; skipped, and forgotten next", {
        profile,
        unopened: unopened.length,
      });
      const view = this.#views.get(profile);
      for (const id of unopened) view?.set(id, DOES_NOT_OPEN);
    }
    if (unreadable > 0) {
      this.#logger.warn("token ledger entries could not be opened now (KMS failed); kept", {
        profile,
        unreadable,
      });
    }
    // Entries not opened (junk, a failed key service, past the bound) are all skipped unrevoked.
    return { entries: read.entries, unopened: unopened.length + unreadable + beyondBound };
  }

  async forget(profile: string, ids: readonly string[], now: number): Promise<void> {
    const pruned = this.#expired(profile, now, PRUNED_PER_FORGET);
    const removed = [...new Set([...ids, ...pruned])];
    if (removed.length === 0) return;
    try {
      const input = removeEntries(this.#tableName, issuedItemKey(profile), removed);
      await this.#client.send(new UpdateItemCommand(input));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const view = this.#views.get(profile);
    const junk = removed.filter((id) => view?.get(id) === DOES_NOT_OPEN).length;
    if (junk > 0) {
      this.#logger.warn("token ledger entries that do not open removed", {
        profile,
        removed: junk,
      });
    }
    for (const id of removed) view?.delete(id);
  }

  async #read(
    key: string,
    abortSignal?: AbortSignal,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const output = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { [partitionKey]: { S: key } },
        ConsistentRead: true,
      }),
      { ...(abortSignal ? { abortSignal } : {}) },
    );
    return output.Item;
  }

  async #start(
    key: string,
    added: Parameters<typeof startLedger>[2],
    abortSignal: AbortSignal,
  ): Promise<boolean> {
    try {
      const input = startLedger(this.#tableName, key, added);
      await this.#client.send(new UpdateItemCommand(input), { abortSignal });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  // Entries of the view that have expired at `now` (or carry no expiry this code wrote, or do
  // not open), at most `limit`: those that do not open first, then the oldest.
  #expired(profile: string, now: number, limit = PRUNED_PER_WRITE): string[] {
    const view = this.#views.get(profile) ?? new Map<string, number | undefined>();
    const expired = [...view]
      .map(([id, expiresAt]) => [id, expiresAt ?? DOES_NOT_OPEN] as const)
      .filter(([, expiresAt]) => expiresAt <= now)
      .sort(([, a], [, b]) => a - b);
    return expired.slice(0, limit).map(([id]) => id);
  }

  #see(profile: string, item: Record<string, AttributeValue> | undefined): void {
    const entries = Object.entries(item?.[TOKENS]?.M ?? {});
    this.#views.delete(profile);
    if (this.#views.size >= VIEWS_KEPT) {
      const oldest = this.#views.keys().next().value;
      if (oldest !== undefined) this.#views.delete(oldest);
    }
    this.#views.set(profile, new Map(entries.map(([id, entry]) => [id, entryExpiryHint(entry)])));
  }
}

// DynamoDB refuses an item over 400 KB as a validation error; the ledger is then full.
function isTooLarge(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === "ValidationException" &&
    /item size/i.test(error.message)
  );
}
