/**
 * The vending command, free of any transport: what every front door (API Gateway's REST API, a
 * function URL, the local server) turns its request into, and the parsing that decides, for all
 * of them alike, whether the request names a route, a method and a well-formed query.
 */

import {
  DEFAULT_MIN_VALIDITY_SECONDS,
  MIN_VALIDITY_RULE,
  parseMinValidity,
} from "../common/min-validity.js";
import { type Caller, parseCaller } from "../core/callers.js";
import { PROFILE_NAME } from "../core/profiles.js";
import { NO_SCOPES, parseScopeSet, type ScopeSet } from "../core/scope-set.js";
import type { InvalidateQuery, TokenQuery } from "../core/vendor.js";
import { InvalidRequestError, MethodNotAllowedError, NotFoundError } from "./request-errors.js";

/** One request, as a front door hands it over. */
export interface VendRequest {
  readonly method: string;
  /**
   * The `{profile}` of `/tokens/{profile}`, decoded; `undefined` when the path is not
   * `/tokens/{profile}` at all (a door that routes for us never sends that).
   */
  readonly profile: string | undefined;
  /** Query parameters by name, every value of each. */
  readonly query: ReadonlyMap<string, readonly string[]>;
  /** The request body; `undefined` or `""` when there is none. */
  readonly body: string | undefined;
  /** The signed caller's ARN, as the door verified it; `undefined` when it names none. */
  readonly caller: string | undefined;
}

/** What a request asks for. */
export type VendCommand =
  | { readonly kind: "get"; readonly query: TokenQuery }
  | { readonly kind: "delete"; readonly query: InvalidateQuery };

/** No query parameters: shared, since most requests have none. */
export const NO_QUERY: ReadonlyMap<string, readonly string[]> = new Map();

const TOKENS_PATH = /^\/tokens\/([^/]*)$/;

/**
 * The `{profile}` of a `/tokens/{profile}` path, decoded where it can be (a malformed escape is
 * kept, and answered `400` as a malformed name); `undefined` for any other path.
 */
export function profileInPath(path: string): string | undefined {
  const segment = TOKENS_PATH.exec(path)?.[1];
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Query parameters of a query string (`a=1&a=2`), every value of each, in order. */
export function queryOf(search: string): ReadonlyMap<string, readonly string[]> {
  if (search === "" || search === "?") return NO_QUERY;
  // A Map, not an object: a parameter named "__proto__" stays a name.
  const query = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(search)) {
    const values = query.get(name);
    if (values) values.push(value);
    else query.set(name, [value]);
  }
  return query;
}

/**
 * Parses a request into the command it asks for.
 * @throws {NotFoundError} on a path other than `/tokens/{profile}`.
 * @throws {MethodNotAllowedError} on a method other than GET and DELETE.
 * @throws {InvalidRequestError} on a malformed profile name, query or body.
 */
export function parseCommand(request: VendRequest): VendCommand {
  const { method, profile, query } = request;
  if (profile === undefined) throw new NotFoundError();
  if (method !== "GET" && method !== "DELETE") throw new MethodNotAllowedError(String(method));
  if (!PROFILE_NAME.test(profile)) {
    throw new InvalidRequestError(
      "The profile name must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter or digit.",
    );
  }
  if (request.body !== undefined && request.body !== "") {
    throw new InvalidRequestError("The request must not have a body.");
  }
  const caller: Caller | undefined = parseCaller(request.caller);

  if (method === "DELETE") {
    if (query.size > 0) throw new InvalidRequestError("DELETE takes no query parameters.");
    return { kind: "delete", query: { profile, caller } };
  }
  for (const name of query.keys()) {
    if (name !== "min_validity" && name !== "scope") {
      throw new InvalidRequestError(
        "The only query parameters accepted are min_validity and scope.",
      );
    }
  }
  const scope = scopeOf(query.get("scope"));
  return {
    kind: "get",
    query: {
      profile,
      caller,
      minValiditySeconds: minValidityOf(query.get("min_validity")),
      ...(scope === undefined ? {} : { scope }),
    },
  };
}

// The caller's ask, canonical; whether it may ask it is the core's decision (`scope-ceilings.ts`).
// The sentences never quote what was sent: it is the caller's own text, of any length.
function scopeOf(values: readonly string[] | undefined): ScopeSet | undefined {
  if (values === undefined) return undefined;
  const [value] = values;
  if (values.length !== 1 || value === undefined) {
    throw new InvalidRequestError(
      "scope must be given at most once: put every scope in one value, separated by spaces.",
    );
  }
  const set = parseScopeSet(value);
  if (typeof set !== "string") throw new InvalidRequestError(`scope: ${set.problem}.`);
  // An empty ask would mean "a token with no scope", which no profile offers as such: a caller
  // that wants the default says nothing.
  if (set === NO_SCOPES) {
    throw new InvalidRequestError(
      "scope must name at least one scope; omit it to get the profile's default.",
    );
  }
  return set;
}

function minValidityOf(values: readonly string[] | undefined): number {
  if (values === undefined) return DEFAULT_MIN_VALIDITY_SECONDS;
  const [value] = values;
  const seconds = values.length === 1 && value !== undefined ? parseMinValidity(value) : undefined;
  if (seconds === undefined) {
    throw new InvalidRequestError(`min_validity must be a single ${MIN_VALIDITY_RULE.slice(2)}.`);
  }
  return seconds;
}
