/**
 * The synth-time check that every caller the profiles name can reach the API at all: the API's
 * resource policy (`apiAccess`) admits principals of some accounts (or of one organization), and
 * the function then applies each profile's callers. A caller of an account the policy never
 * admits would be refused by API Gateway before the function sees it, so synth refuses it.
 */
import { Token } from "aws-cdk-lib";
import type { ProfilesConfig } from "../functions/core/profiles.js";
import type { ApiAccess } from "./token-vending-props.js";

/** A caller the API's resource policy would refuse; the message names it and the fix. */
export class CallerAccountError extends Error {
  override readonly name = "CallerAccountError";

  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

interface NamedCaller {
  readonly where: string;
  readonly entry: string;
  readonly account: string;
}

function namedCallers(config: ProfilesConfig): NamedCaller[] {
  const callers: NamedCaller[] = [];
  for (const [name, profile] of config.profiles) {
    for (const pattern of profile.allowedCallers) {
      const entry = pattern.kind === "account" ? pattern.account : pattern.source;
      callers.push({ where: `profile "${name}"`, entry, account: pattern.account });
    }
  }
  for (const pattern of config.adminCallers) {
    const entry = pattern.kind === "account" ? pattern.account : pattern.source;
    callers.push({ where: "adminCallers", entry, account: pattern.account });
  }
  return callers;
}

/**
 * Checks every `allowedCallers` and `adminCallers` entry against `apiAccess`.
 * - `accounts`: the caller's account must be one of them.
 * - `organizationId`: membership is not known at synth; every caller passes.
 * - the default (the deploying account): with a known account, the caller's must be it; with an
 *   environment-agnostic stack, the callers may name one account at most, since only one can be
 *   the account the stack is deployed to.
 * @throws {CallerAccountError} with one line per caller the policy would refuse.
 */
export function checkCallerAccounts(
  config: ProfilesConfig,
  access: ApiAccess | undefined,
  deployingAccount: string,
): void {
  const callers = namedCallers(config);
  const refuse = (caller: NamedCaller, why: string) =>
    `${caller.where}: caller ${caller.entry} (account ${caller.account}) ${why}`;
  let problems: string[] = [];
  if (access && "accounts" in access) {
    const admitted = new Set(access.accounts);
    problems = callers
      .filter((caller) => !admitted.has(caller.account))
      .map((caller) =>
        refuse(
          caller,
          `can never reach the API: apiAccess admits only accounts ${[...admitted].join(", ")}; add ${caller.account} to apiAccess.accounts (-c apiAccounts=...) or remove the caller`,
        ),
      );
  } else if (!access) {
    const fix = (caller: NamedCaller) =>
      `list the accounts that call in apiAccess.accounts (-c apiAccounts=...) or remove the caller ${caller.entry}`;
    if (!Token.isUnresolved(deployingAccount)) {
      problems = callers
        .filter((caller) => caller.account !== deployingAccount)
        .map((caller) =>
          refuse(
            caller,
            `can never reach the API: by default it admits only the deploying account ${deployingAccount}; ${fix(caller)}`,
          ),
        );
    } else {
      const accounts = new Set(callers.map((caller) => caller.account));
      if (accounts.size > 1) {
        problems = callers.map((caller) =>
          refuse(
            caller,
            `may never reach the API: by default it admits only the deploying account, and the callers name ${accounts.size} accounts (${[...accounts].join(", ")}); ${fix(caller)}`,
          ),
        );
      }
    }
  }
  if (problems.length > 0) throw new CallerAccountError(problems);
}
