/**
 * How a `DELETE`'s recorded time is read, stated once for the refresh that reads it and the write
 * that follows. A `DELETE` records its own clock's time; another instance's clock may be behind by
 * up to {@link MAX_CLOCK_SKEW_MS}, so a time that far ahead is genuine, and one further ahead was
 * edited into the table.
 *
 * A genuine record read from the table is honoured by reading the credentials again after that
 * read (the `DELETE` had happened by then, whatever its clock said); an edited one asks for no
 * secret read. Either way the write that follows carries the record exactly as it was read, and
 * may replace that record and no other: a record the refresh did not read refuses the write
 * whatever its time, because the writer's clock cannot tell an edit from a `DELETE` made while the
 * writer was frozen. So someone who rewrites the record faster than refreshes finish costs one
 * CyberArk request per request for the profile, and nothing is cached meanwhile; one edit costs
 * one request.
 */
import type { TableRead } from "./table-cache.js";
import { MAX_CLOCK_SKEW_MS } from "./timing.js";

/**
 * The `DELETE` time a table read recorded, if a genuine `DELETE` could have written it by `now`.
 * @returns undefined for a hit, a miss without a record, or a time too far ahead.
 */
export function honouredDeletion(read: TableRead, now: number): number | undefined {
  const recorded = recordedDeletion(read);
  return recorded !== undefined && recorded <= now + MAX_CLOCK_SKEW_MS ? recorded : undefined;
}

/** The `DELETE` record a table read found, as it found it: what the write may replace. */
export function recordedDeletion(read: TableRead): number | undefined {
  return read.status === "miss" ? read.deletedAt : undefined;
}
