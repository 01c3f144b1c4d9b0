/**
 * A `DELETE`, top to bottom (`docs/protocol.md`, sections 2 and 6): drop the profile's tokens from
 * this instance's memory, one unconditional write (the next epoch, no token, no place), read the
 * ledger, and revoke what the write ended. An entry of another incarnation is older only if no
 * later life of the item had begun when the ledger was read: when the ledger shows one, the item
 * is read again after the ledger; the same incarnation settles it. Another (or none) means the
 * `DELETE` was frozen past the item's keep: the life there now began after its write (its tokens
 * are not its business); an entry of neither makes it write again, in the life there now, and
 * read the ledger again, at most {@link DELETE_ROUNDS} writes. Unsettled, it revokes only what is
 * surely older (of a life it wrote in, of an epoch it ended) and reports `failed`.
 */
import type { Ledger } from "./ledger.js";
import type { DeletedRecord, LedgerRead, Logger, TokenStamp } from "./ports.js";
import { deleteTokens } from "./profile-record.js";
import type { ProfileSlots } from "./profile-slot.js";
import type { Profile } from "./profiles.js";
import type { SharedRecords } from "./records.js";
import { judgeOf, type Revoked, type SkipReason } from "./revocation-rule.js";
import { DELETE_ROUNDS } from "./timing.js";
import type { CachedToken } from "./token.js";

/** What the `DELETE`s of an instance share. */
export interface DeletionParts {
  readonly slots: ProfileSlots;
  readonly records: SharedRecords;
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Runs the profiles' `DELETE`s. One per function instance. */
export class Deletion {
  readonly #p: DeletionParts;

  constructor(parts: DeletionParts) {
    this.#p = parts;
  }

  /** @throws {UpstreamUnavailableError} when the table could not drop the tokens. */
  async run(profile: Profile): Promise<Revoked> {
    const { slots, records } = this.#p;
    const tokens = slots.slotsOf(profile).flatMap((slot) => slot.memory.held()?.token ?? []);
    const shared = slots.generation(profile).shared;
    shared.places = deleteTokens(shared.places); // the places this instance counted itself
    slots.replace(profile);
    let deleted: DeletedRecord = await records.delete(profile.name);
    const lives: TokenStamp[] = [deleted];
    tokens.push(...deleted.dropped);
    let [late, read, settled]: [Late[], LedgerRead | undefined, boolean] = [[], undefined, true];
    const newer = new Set<string>(); // lives begun after this DELETE's first write
    for (let round = 1; this.#p.ledger.revocable(profile); round += 1) {
      read = await this.#p.ledger.read(profile);
      late = this.#late(profile, tokens);
      const now = this.#p.now();
      const known = (e: Stamped) =>
        e.expiresAt <= now ||
        newer.has(e.incarnation) ||
        lives.some((l) => l.incarnation === e.incarnation);
      const other = (e: Stamped) => e.expiresAt > now && e.incarnation !== deleted.incarnation;
      if (!(read?.entries.some(other) || late.some(other))) break;
      // A life of the item after the write's may have begun before the ledger was read.
      const life = (await records.read(profile.name))?.record;
      if (life?.incarnation === deleted.incarnation) break;
      // The life there now began after this write: its tokens are not this DELETE's business.
      if (life?.incarnation !== undefined) newer.add(life.incarnation);
      if (life && (read?.entries ?? []).every(known) && late.every(known)) break;
      settled = false;
      if (!life || round >= DELETE_ROUNDS) break; // the table failed, or the rounds are spent
      const again = await records.delete(profile.name).catch(() => undefined);
      if (!again) break;
      [deleted, settled] = [again, true];
      newer.delete(again.incarnation);
      lives.push(again);
      tokens.push(...again.dropped);
    }
    slots.replace(profile);
    if (!settled) {
      const message = "the profile's item changed life during the DELETE";
      this.#p.logger.warn(`${message}; tokens of another life not revoked`, {
        profile: profile.name,
      });
    }
    const judge = judgeOf(lives, newer, settled, this.#p.now());
    const skipped: SkipReason[] = [];
    for (const entry of late) {
      const verdict = judge(entry);
      if (verdict === true) tokens.push(entry.token);
      else if (verdict !== "newer-epoch") skipped.push(verdict);
    }
    const credentials = () => slots.generation(profile).credentials.get();
    return this.#p.ledger.revokeAfterDelete(profile, { read, tokens, judge, skipped }, credentials);
  }

  // Tokens held since the write (work that read the record while it was on its way): those of
  // an unknown life join `tokens` (revoked), the others are judged with the ledger's entries.
  #late(profile: Profile, tokens: CachedToken[]): Late[] {
    const late: Late[] = [];
    for (const slot of this.#p.slots.slotsOf(profile)) {
      const entry = slot.memory.held();
      if (!entry || tokens.some((t) => t.accessToken === entry.token.accessToken)) continue;
      if (entry.stamp) late.push({ ...entry.stamp, token: entry.token, expiresAt: Infinity });
      else tokens.push(entry.token);
    }
    return late;
  }
}

type Stamped = TokenStamp & { readonly expiresAt: number };
type Late = Stamped & { readonly token: CachedToken };
