/**
 * How a `DELETE`'s recorded time is read, stated once for the refresh that reads it and the write
 * that follows. A `DELETE` records its own clock's time; another instance's clock may be behind by
 * up to {@link MAX_CLOCK_SKEW_MS}, so a time that far ahead is genuine, and one further ahead was
 * edited into the table and is ignored.
 *
 * A genuine record read from the table is honoured by reading the credentials again after that
 * read (the `DELETE` had happened by then, whatever its clock said). The write that follows may
 * then replace exactly that record, even when its time is still ahead of the writer's clock:
 * comparing the raw time with when the credentials were read would refuse every write for as long
 * as someone rewrote the record a few seconds ahead.
 */
import type { TableRead } from "./table-cache.js";
import { MAX_CLOCK_SKEW_MS } from "./timing.js";

/**
 * The `DELETE` time a table read recorded, if a genuine `DELETE` could have written it by `now`.
 * @returns undefined for a hit, a miss without a record, or a time too far ahead.
 */
export function honouredDeletion(read: TableRead, now: number): number | undefined {
  const recorded = read.status === "miss" ? read.deletedAt : undefined;
  return recorded !== undefined && recorded <= now + MAX_CLOCK_SKEW_MS ? recorded : undefined;
}
