/**
 * Which API URLs the client and the CLI accept. A signed request and the token it returns must
 * never cross a network in clear, so plain `http://` is only for the loopback hosts (the local
 * server); everything else must be `https://`. Checked before any request is made.
 */

import { LOOPBACK_HOSTS } from "../common/loopback.js";

/** The hosts that may be reached over plain `http://`. */
export { LOOPBACK_HOSTS };

/** A URL the client refuses to call; the CLI reports it as bad usage. */
export class InvalidApiUrlError extends Error {
  /** Stable code for callers that branch on it. */
  readonly code = "invalid_url";

  constructor(message: string) {
    super(message);
    this.name = "InvalidApiUrlError";
  }
}

/** Whether `url` names one of the {@link LOOPBACK_HOSTS}. */
export function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * The API's base URL, parsed and checked: `https://`, or `http://` on a loopback host.
 * @throws {InvalidApiUrlError} naming the rule the URL breaks.
 */
export function parseApiUrl(text: string): URL {
  if (!URL.canParse(text)) throw new InvalidApiUrlError(`"${text}" is not a URL`);
  const url = new URL(text);
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url)) return url;
  throw new InvalidApiUrlError(
    url.protocol === "http:"
      ? `"${text}" uses plain http:// for a host that is not loopback; use https:// (http:// is only for 127.0.0.1, localhost and [::1])`
      : `"${text}" is not an https:// URL`,
  );
}
