/**
 * The check before EVERY attempt at CyberArk, retries included (pure, like `profile-record.ts`
 * whose record it reads): the asking work still holds the set's lease with `needMs` to spare, no
 * back-off lasts, and the record is the life (incarnation, epoch) its credentials were read under.
 * Re-exported by `profile-record.ts`.
 */

/** What the guard reads of a profile's record (`profile-record.ts` `ProfileRecord`). */
interface GuardedRecord {
  readonly incarnation?: string;
  readonly epoch: number;
  readonly backOffUntil: number;
  readonly sets: ReadonlyMap<string, { readonly lease?: { owner: string; until: number } }>;
}

/** Why a request to CyberArk must not be sent now ({@link mayAsk}). */
export type AskRefusal = "lease-lost" | "backing-off" | "deleted";

/** Whether `owner` may send an attempt for the set `tag` now; `undefined`: it may. */
export function mayAsk(
  record: GuardedRecord,
  ask: {
    tag: string;
    owner: string;
    incarnation?: string;
    epoch: number;
    now: number;
    needMs: number;
  },
): AskRefusal | undefined {
  if (record.backOffUntil > ask.now) return "backing-off";
  if (record.incarnation !== ask.incarnation || record.epoch !== ask.epoch) return "deleted";
  const lease = record.sets.get(ask.tag)?.lease;
  return lease?.owner === ask.owner && lease.until > ask.now + ask.needMs
    ? undefined
    : "lease-lost";
}
