/**
 * What keeps web pages away from the local server's ports. A page can make a browser send
 * requests to 127.0.0.1, and with DNS rebinding even read the answers, but it cannot make the
 * browser send a loopback `Host` for a name it controls, nor leave out `Origin` on a cross-origin
 * request. Both the vending port and the embedded DynamoDB port refuse such requests.
 */
import type { IncomingHttpHeaders } from "node:http";

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

/** What the guard looks at. */
export interface GuardedRequest {
  readonly headers: IncomingHttpHeaders;
  /** The port the request arrived on: the only one its `Host` may name. */
  readonly localPort: number;
}

/** Why a request must not be served, if it must not (a reason code, never a header value). */
export function refusalReason(request: GuardedRequest): string | undefined {
  if (request.headers.origin !== undefined) return "origin_header_present";
  const host = request.headers.host;
  if (host === undefined) return "host_missing";
  const allowed = LOOPBACK_HOSTS.map((name) => `${name}:${request.localPort}`);
  // A browser leaves out the default port.
  if (request.localPort === 80) allowed.push(...LOOPBACK_HOSTS);
  return allowed.includes(host.toLowerCase()) ? undefined : "host_not_loopback";
}
