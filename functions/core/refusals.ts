/**
 * The 503s the shared record's decisions answer with: each says what it is about, with a
 * `Retry-After` a caller can act on.
 */
import { UpstreamUnavailableError } from "./errors.js";
import { MAX_BACK_OFF_MS } from "./timing.js";

/** Another holder's lease outlasted the wait, or this work lost its lease. */
export function leaseBusy(detail: string, retryAfterSeconds = 1): UpstreamUnavailableError {
  return new UpstreamUnavailableError({
    dependency: "lease",
    kind: "busy",
    detail,
    retryAfterSeconds,
  });
}

/** CyberArk asked for a back-off of the profile that lasts until `until` (epoch ms). */
export function backingOff(until: number, now: number): UpstreamUnavailableError {
  const seconds = Math.max(1, Math.ceil((until - now) / 1000));
  return new UpstreamUnavailableError({
    dependency: "identity",
    kind: "backing-off",
    detail: `CyberArk asked for a back-off of the profile; ${seconds} s remain`,
    retryAfterSeconds: seconds,
  });
}

/**
 * A new scope set past the profile's bound on live sets, or past the caller's share of them; the
 * `Retry-After` says when the soonest place frees (at most {@link MAX_BACK_OFF_MS}).
 */
export function placesFull(
  bound: "profile" | "caller",
  freesAt: number,
  now: number,
): UpstreamUnavailableError {
  const whose = bound === "profile" ? "The profile's" : "This caller's";
  const seconds = Math.ceil(Math.min(MAX_BACK_OFF_MS, Math.max(1000, freesAt - now)) / 1000);
  return new UpstreamUnavailableError({
    dependency: "identity",
    kind: "busy",
    detail: `${bound === "profile" ? "the profile's" : "the caller's"} live scope sets are at their bound; a new one may ask when one frees`,
    description: `${whose} scope sets are at their bound; retry later.`,
    retryAfterSeconds: seconds,
  });
}

/** A `DELETE` came while the token was being obtained: it is revoked, never served. */
export function raced(): UpstreamUnavailableError {
  return leaseBusy("a DELETE of the profile came while its token was obtained; token revoked");
}

/** The credentials were read too long ago to send an attempt with (a freeze): ask again. */
export function stale(): UpstreamUnavailableError {
  return leaseBusy("the credentials were read too long ago to send an attempt; not sent");
}

/** No token lasts the caller's min_validity: it should ask again shortly. */
export function tooShort(detail = "no token lasting the requested min_validity") {
  return new UpstreamUnavailableError({
    dependency: "identity",
    kind: "unusable",
    detail,
    retryAfterSeconds: 1,
  });
}
