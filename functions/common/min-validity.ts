/**
 * `min_validity`: the seconds a returned token must stay valid. One rule for the service that
 * parses it from the query and the client, CLI and Action that send it.
 */

/** What a request without `min_validity` asks for. */
export const DEFAULT_MIN_VALIDITY_SECONDS = 300;

/** The most a request may ask for: an hour. */
export const MAX_MIN_VALIDITY_SECONDS = 3600;

/** The rule, in words, for error messages. */
export const MIN_VALIDITY_RULE = `a whole number of seconds from 0 to ${MAX_MIN_VALIDITY_SECONDS}`;

/** `text` as seconds when it is a whole number from 0 to the maximum; otherwise `undefined`. */
export function parseMinValidity(text: string): number | undefined {
  const seconds = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  return seconds <= MAX_MIN_VALIDITY_SECONDS ? seconds : undefined;
}
