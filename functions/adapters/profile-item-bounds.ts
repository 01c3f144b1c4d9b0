/**
 * Times in a profile's item that no instance of this service could have written: a lease that
 * ends later than any lease taken now could, or a back-off later than CyberArk may ask for. Only
 * a table writer without the service's code writes those (the table's resource policy shuts such
 * writers out; this is what the service does if one gets through anyway): such a lease or back-off
 * is left out of the record, as edited, so it never stops a set or a profile. The room given for
 * clocks is one lease: the longest a lease taken on another instance's clock still runs.
 * Nothing here orders anything; it only bounds how far ahead an end can believably be.
 */
import type { ProfileRecord, SetEntry } from "../core/profile-record.js";
import { LEASE_MS, MAX_BACK_OFF_MS } from "../core/timing.js";

const CLOCK_ROOM_MS = LEASE_MS;

/** `record` without the leases and back-off that end later than believable at `now`. */
export function believable<T>(
  record: ProfileRecord<T>,
  now: number,
): { readonly record: ProfileRecord<T>; readonly edits: readonly string[] } {
  const edits: string[] = [];
  const sets = new Map<string, SetEntry<T>>();
  for (const [tag, entry] of record.sets) {
    if (entry.lease && entry.lease.until > now + LEASE_MS + CLOCK_ROOM_MS) {
      const { lease: _forged, ...rest } = entry;
      edits.push(`leases.${tag}`);
      sets.set(tag, rest);
    } else {
      sets.set(tag, entry);
    }
  }
  const forgedBackOff = record.backOffUntil > now + MAX_BACK_OFF_MS + CLOCK_ROOM_MS;
  if (forgedBackOff) edits.push("backOffUntil");
  return {
    record: { ...record, sets, ...(forgedBackOff ? { backOffUntil: 0 } : {}) },
    edits,
  };
}
