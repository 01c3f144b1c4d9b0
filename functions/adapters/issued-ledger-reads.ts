/**
 * A `DELETE`'s read of a profile's ledger of issued tokens (see `dynamodb-issued-tokens.ts`):
 * which entries to open, and what became of each.
 *
 * The item is the table's, and anyone who may write the table may fill it, so the cost of a read
 * never follows the item's size: at most `ISSUED_TOKENS_KEPT` entries (the ledger's own bound, all
 * a ledger this code wrote ever holds) are opened, all at once: one round of KMS for at most that
 * many distinct data keys, as the `DELETE`'s timing budget counts. First those whose data key this
 * instance already holds (they cost no KMS call, and junk never carries one that opens), then the
 * newest by expiry hint. Entries whose hint has passed are opened too (within the bound): the core
 * decides what has expired and counts what it skips. (A table writer who fills the item can crowd
 * real entries out of the read; it could as well delete them, so the bound takes nothing a table
 * writer did not have.)
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { RememberedEntry } from "../core/ports.js";
import { ISSUED_TOKENS_KEPT } from "./issued-ledger-updates.js";
import { ENTRY, entryExpiryHint, openIssuedEntry } from "./sealed-issued-token.js";
import { DoesNotOpenError, type TokenCipher } from "./token-cipher.js";

/** What a read of the ledger found. Counts and ids only: nothing of an entry's content. */
export interface LedgerContents {
  /** Every entry that opened, expired or not. */
  readonly entries: readonly RememberedEntry[];
  /** Ids of opened entries that do not open (not sealed by this service for that entry). */
  readonly unopened: readonly string[];
  /** Entries that could not be opened now (the key service failed): kept for a later try. */
  readonly unreadable: number;
  /** Entries skipped unopened because more than the bound's worth are there. */
  readonly beyondBound: number;
}

/** Opens the entries of the ledger item `itemKey`, within the bound. */
export async function readLedger(
  cipher: TokenCipher,
  itemKey: string,
  entries: readonly (readonly [string, AttributeValue])[],
): Promise<LedgerContents> {
  const ranked = entries.map(([id, entry]) => {
    const sealed = entry.M?.[ENTRY.sealed]?.S;
    const held = sealed !== undefined && cipher.holdsKeyOf(sealed);
    return { id, entry, hint: entryExpiryHint(entry) ?? 0, held };
  });
  const opened = ranked
    .sort((a, b) => Number(b.held) - Number(a.held) || b.hint - a.hint)
    .slice(0, ISSUED_TOKENS_KEPT);
  const outcomes = await Promise.all(
    opened.map(({ id, entry }) =>
      openIssuedEntry(cipher, itemKey, id, entry).then(
        (remembered) => ({ id, remembered }),
        (error: unknown) => ({ id, error }),
      ),
    ),
  );
  const found: RememberedEntry[] = [];
  const unopened: string[] = [];
  let unreadable = 0;
  for (const outcome of outcomes) {
    if ("remembered" in outcome) found.push(outcome.remembered);
    else if (outcome.error instanceof DoesNotOpenError) unopened.push(outcome.id);
    else unreadable += 1;
  }
  return { entries: found, unopened, unreadable, beyondBound: ranked.length - opened.length };
}
