/**
 * What keeps web pages away from the local server's ports. A page can make a browser send
 * requests to 127.0.0.1, and with DNS rebinding even read the answers, but it cannot make the
 * browser send a loopback `Host` for a name it controls, nor leave out `Origin` on a cross-origin
 * request. Both the vending port and the embedded DynamoDB port refuse such requests.
 */
import type { IncomingHttpHeaders } from "node:http";
import { LOOPBACK_HOSTS } from "../common/loopback.js";

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
  // A client sends the same Host on every request: the last one served is not checked again.
  if (host === lastServed.host && request.localPort === lastServed.port) return undefined;
  const refusal = hostRefusal(host, request.localPort);
  if (refusal === undefined) lastServed = { host, port: request.localPort };
  return refusal;
}

let lastServed = { host: "", port: -1 };

function hostRefusal(host: string, localPort: number): string | undefined {
  const name = host.toLowerCase();
  // A browser leaves out the default port.
  if (LOOPBACK_HOSTS.has(name)) return localPort === 80 ? undefined : "host_not_loopback";
  const colon = name.lastIndexOf(":");
  const served =
    colon > 0 &&
    LOOPBACK_HOSTS.has(name.slice(0, colon)) &&
    name.slice(colon + 1) === String(localPort);
  return served ? undefined : "host_not_loopback";
}
