/**
 * How long to wait before trying again, for every caller of an HTTP service here: the identity
 * client asking CyberArk, and the published client asking the token-vending API. One definition
 * of full jitter and one reading of `Retry-After`.
 */

/**
 * Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): a uniform pick in
 * [0, min(cap, base * 2^(retry - 1))). Retry 1 waits up to `baseMs`, retry 2 up to twice that, and
 * so on; callers that fail together spread out instead of coming back in step.
 * @param retry 1 for the first retry (the second attempt).
 * @param random a source in [0, 1), `Math.random` in real use.
 */
export function fullJitterMs(
  retry: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

// RFC 9110: delay-seconds (digits, here with an optional fraction), or an HTTP date with its
// weekday. Anything else ("-5", "1e400") counts as no header rather than as a date or infinity.
const DELAY_SECONDS = /^\d{1,9}(\.\d{1,3})?$/;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A `Retry-After` header in milliseconds from `now` (epoch ms), or `undefined` when there is none
 * or it cannot be read.
 */
export function parseRetryAfterMs(header: string | null, now: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (DELAY_SECONDS.test(value)) return Number(value) * 1000;
  if (!HTTP_DATE.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
