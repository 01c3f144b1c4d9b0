/**
 * Who may use a profile (`allowedCallers` and `adminCallers`).
 *
 * A pattern is a 12-digit account ID, an IAM role ARN or an IAM user ARN. Matching compares
 * partition, account and principal name separately; the path of a role or user is not compared
 * because assumed-role ARNs do not carry it, and IAM names are unique within an account whatever
 * their path. `*` matches any run of characters inside the name only, so it can never reach into
 * the account, the partition or an assumed role's session name.
 */
import { createHash } from "node:crypto";
import type { ScopeSet } from "./scope-set.js";

/** A parsed `allowedCallers` / `adminCallers` entry. */
export type CallerPattern =
  | { readonly kind: "account"; readonly account: string }
  | {
      readonly kind: "role" | "user";
      readonly partition: string;
      readonly account: string;
      /** Matches the principal's name (the last path segment), `*` expanded. */
      readonly name: RegExp;
      /** The entry as written, for messages. */
      readonly source: string;
    };

/**
 * One `allowedCallers` entry: a pattern, and that caller's own scope ceiling when the entry is
 * `{ "caller", "scopes" }` (see `scope-ceilings.ts`). Still a {@link CallerPattern}, so every
 * matching rule applies to it unchanged.
 */
export type AllowedCaller = CallerPattern & {
  /** This caller's own ceiling, within the profile's `scopes`; absent: the profile's ceiling. */
  readonly scopes?: ScopeSet;
};

/** The signed caller, as parsed from `requestContext.identity.userArn`. */
export interface Caller {
  readonly arn: string;
  readonly partition: string;
  readonly account: string;
  /** `role` for an assumed role (or a role ARN), `user` for an IAM user, `other` for anything else. */
  readonly kind: "role" | "user" | "other";
  /** The role or user name; empty for `other`. */
  readonly name: string;
}

const ACCOUNT = /^\d{12}$/;
// Characters IAM allows in role and user names, plus `*` as our wildcard.
const NAME_PATTERN = /^[\w+=,.@*-]{1,64}$/;
const PATH_SEGMENT = /^[\w+=,.@-]+$/;
const PATTERN_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/(.+)$/;

/**
 * Parses one caller pattern; returns a problem sentence instead when it is not one.
 * A wildcard in a path segment is refused: paths are not compared, so it would silently widen
 * the pattern to every principal of that kind in the account.
 */
export function parseCallerPattern(entry: unknown): CallerPattern | string {
  if (typeof entry !== "string") return "must be a string";
  if (ACCOUNT.test(entry)) return { kind: "account", account: entry };
  const match = PATTERN_ARN.exec(entry);
  if (!match) {
    return "must be a 12-digit account ID or an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)";
  }
  const [, partition = "", account = "", kind, pathAndName = ""] = match;
  const segments = pathAndName.split("/");
  const name = segments.pop() ?? "";
  if (!NAME_PATTERN.test(name)) return `has an invalid ${kind} name "${name}"`;
  if (!segments.every((segment) => PATH_SEGMENT.test(segment))) {
    return "may use * only in the role or user name, not in its path";
  }
  return {
    kind: kind === "role" ? "role" : "user",
    partition,
    account,
    name: globToRegExp(name),
    source: entry,
  };
}

function globToRegExp(name: string): RegExp {
  const escaped = name.replace(/[.+=,@-]/g, (character) => `\\${character}`);
  return new RegExp(`^${escaped.replaceAll("*", ".*")}$`);
}

const ASSUMED_ROLE_ARN = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
const IAM_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/(?:[^/]+\/)*([^/]+)$/;
const ANY_ARN = /^arn:(aws[a-z-]*):[a-z]+::(\d{12}):.+$/;

/** Parses the caller's ARN; `undefined` when there is none or it is not an AWS principal ARN. */
export function parseCaller(arn: string | null | undefined): Caller | undefined {
  if (!arn) return undefined;
  const assumed = ASSUMED_ROLE_ARN.exec(arn);
  if (assumed) {
    const [, partition = "", account = "", name = ""] = assumed;
    return { arn, partition, account, kind: "role", name };
  }
  const iam = IAM_ARN.exec(arn);
  if (iam) {
    const [, partition = "", account = "", kind, name = ""] = iam;
    return { arn, partition, account, kind: kind === "role" ? "role" : "user", name };
  }
  const other = ANY_ARN.exec(arn);
  if (other) {
    const [, partition = "", account = ""] = other;
    return { arn, partition, account, kind: "other", name: "" };
  }
  return undefined;
}

/** Whether the caller matches one pattern. */
export function callerMatches(caller: Caller, pattern: CallerPattern): boolean {
  if (pattern.kind === "account") return caller.account === pattern.account;
  return (
    caller.kind === pattern.kind &&
    caller.partition === pattern.partition &&
    caller.account === pattern.account &&
    pattern.name.test(caller.name)
  );
}

/** Whether the caller matches any pattern. Empty list: nobody (deny by default). */
export function isAllowed(caller: Caller | undefined, patterns: readonly CallerPattern[]): boolean {
  if (!caller) return false;
  return patterns.some((pattern) => callerMatches(caller, pattern));
}

/** The digest of a caller's role (every session of it alike) that scope-set places count by. */
export function callerDigest(caller: Caller | undefined): string {
  const role = caller ? `${caller.partition}:${caller.account}:${caller.kind}/${caller.name}` : "";
  return createHash("sha256").update(role).digest("base64url").slice(0, 16);
}
