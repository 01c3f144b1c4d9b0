/**
 * One HTTP request as the local server received it, and what the server makes of it: the path and
 * query it names, the caller it claims, and the request either door's adapter would produce. No
 * fake API Gateway event: the REST door's routing is the server's own, and the request goes to
 * the shared request handling directly.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { profileInPath, queryOf } from "../vend/command.js";
import type { DoorRequest } from "../vend/vending.js";

/** One HTTP request as the server received it, body read. */
export interface LocalRequest {
  readonly method: string;
  /** The request target as sent, e.g. `/tokens/demo?min_validity=60`. */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The port the request arrived on: the only one its `Host` may name. */
  readonly localPort: number;
  /** @default "127.0.0.1" */
  readonly remoteAddress?: string | undefined;
  /** @default "1.1" */
  readonly httpVersion?: string;
}

/** Only the local server reads this header; the deployed function takes its door's identity. */
export const CALLER_HEADER = "x-caller-arn";

/** The path and query string of an origin-form request target. */
export interface TargetParts {
  readonly path: string;
  /** `""` or `?...`. */
  readonly search: string;
  /** The `{profile}` of a plain `/tokens/{profile}` path (nothing to decode), when it is one. */
  readonly profile?: string;
}

// A path a URL parser would leave as it is: the usual `/tokens/{profile}`, split without one.
const TOKENS = "/tokens/";
const PLAIN_TARGET = /^\/tokens\/[\w~-]*(?:\?[^#]*)?$/;

/**
 * The path and query of `target`; `undefined` unless it is origin-form (`/path?query`): `*`,
 * `http://elsewhere/...` and `//elsewhere/...` name no path of this server.
 */
export function targetParts(target: string): TargetParts | undefined {
  if (!target.startsWith("/") || target.startsWith("//")) return undefined;
  if (PLAIN_TARGET.test(target)) {
    const at = target.indexOf("?");
    const path = at < 0 ? target : target.slice(0, at);
    return { path, search: at < 0 ? "" : target.slice(at), profile: path.slice(TOKENS.length) };
  }
  // Dot segments, escapes and the like: as a URL parser resolves them.
  const url = URL.parse(`http://local${target}`);
  return url ? { path: url.pathname, search: url.search } : undefined;
}

/** The caller a request claims (`x-caller-arn`), else the server's default. */
export function callerOf(request: LocalRequest, defaultCaller: string): string {
  const claimed = request.headers[CALLER_HEADER];
  return (typeof claimed === "string" && claimed) || defaultCaller;
}

/** The request the local server hands the shared request handling (its REST door). */
export function localDoorRequest(
  request: LocalRequest,
  parts: TargetParts | undefined,
  defaultCaller: string,
): DoorRequest {
  return {
    method: request.method,
    profile: parts && (parts.profile ?? profileInPath(parts.path)),
    query: queryOf(parts?.search ?? ""),
    body: request.body,
    caller: callerOf(request, defaultCaller),
    requestId: randomUUID(),
  };
}
