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
 *
 * A `DELETE` is recorded twice: on the profile's own item, which every scope set's read sees (a
 * token is sealed with the record its writer read, and served only while it is still the
 * profile's), and on each placed set's item (which refuses the write outright). A read reports
 * both; the latest genuine one is honoured, and the write carries each exactly as read.
 */
import type { TableRead } from "./table-cache.js";
import { MAX_CLOCK_SKEW_MS } from "./timing.js";

/**
 * The latest `DELETE` time a table read recorded (the set's item's or the profile's), if a genuine
 * `DELETE` could have written it by `now`.
 * @returns undefined when neither records one, or each is too far ahead.
 */
export function honouredDeletion(read: TableRead, now: number): number | undefined {
  const honoured = [recordedDeletion(read), recordedProfileDeletion(read)].filter(
    (recorded): recorded is number => recorded !== undefined && recorded <= now + MAX_CLOCK_SKEW_MS,
  );
  return honoured.length === 0 ? undefined : Math.max(...honoured);
}

/** The set's `DELETE` record a table read found, as it found it: what the write may replace. */
export function recordedDeletion(read: TableRead): number | undefined {
  return read.status === "miss" ? read.deletedAt : undefined;
}

/**
 * The profile's `DELETE` record a table read found, as it found it: what the token written after
 * it is sealed with, and what a set's place is asked under.
 */
export function recordedProfileDeletion(read: TableRead): number | undefined {
  return read.status === "unavailable" ? undefined : read.profile?.deletedAt;
}
