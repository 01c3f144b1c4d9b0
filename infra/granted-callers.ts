/**
 * Callers granted in CDK code, collected at synth and handed to the function at deploy time.
 *
 * A grantee's role ARN is a CloudFormation token at synth, so it cannot be written into the
 * profiles file bundled with the function. It travels instead in one environment variable of
 * compact JSON, which CloudFormation fills in (the function merges it with the file's callers at
 * cold start, see `functions/core/granted-callers.ts`). Lambda allows 4 KB of environment in all,
 * so the variable has a budget, checked at each grant, with a clear message when it is exceeded.
 * A caller granted with its own scope ceiling is checked here against the profile's `scopes`, by
 * the same rules as the profiles file's caller entries, so a grant that synthesizes is a grant
 * the function accepts at start-up.
 */
import { Lazy, Stack, Token } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import type { GrantedCaller, GrantedCallers } from "../functions/core/granted-callers.js";
import { isProblems, parseCallerScopes } from "../functions/core/profile-scopes.js";
import type { ProfilesConfig } from "../functions/core/profiles.js";
import { scopesOf } from "../functions/core/scope-set.js";

/** Bytes the variable may take; the rest of the 4 KB holds the function's other variables. */
export const GRANTED_CALLERS_BUDGET = 3072;

// The longest ARN a role created in the app can resolve to: the longest partition prefix
// ("arn:aws-iso-b:iam::123456789012:role/") and a 64-character role name. Roles with a path are
// either written out (then measured as written) or rare enough to leave to the profiles file.
const LONGEST_ROLE_ARN = 37 + 64;

/** The set of granted callers of one vending function. */
export class GrantedCallerList {
  readonly #profiles = new Map<string, GrantedCaller[]>();
  readonly #admin: string[] = [];
  #attached = false;

  constructor(
    private readonly fn: lambda.Function,
    private readonly config: ProfilesConfig,
  ) {}

  /**
   * Adds a caller of `profile`, with its own ceiling when `scopes` is given.
   * @throws {Error} for a profile the profiles do not define, or a ceiling the profile's
   *   `scopes` do not allow, one line per problem naming the profile and the scope.
   */
  addProfileCaller(profile: string, callerArn: string, scopes?: readonly string[]): void {
    const defined = this.config.profiles.get(profile);
    if (!defined) {
      throw new Error(
        `grantGetToken: no profile "${profile}" in the profiles (${[...this.config.profiles.keys()].join(", ")})`,
      );
    }
    let entry: GrantedCaller = callerArn;
    if (scopes !== undefined) {
      if (defined.scopes === undefined) {
        throw new Error(
          `grantGetToken: profile "${profile}" declares no "scopes" (its callers can only get its default scope), so a grant cannot give a caller a ceiling of its own`,
        );
      }
      const ceiling = parseCallerScopes(scopes, { declared: true, scopes: defined.scopes });
      if (isProblems(ceiling)) {
        throw new Error(
          ceiling.problems
            .map((problem) => `grantGetToken: profile "${profile}" ${problem}`)
            .join("\n"),
        );
      }
      entry = { caller: callerArn, scopes: scopesOf(ceiling) };
    }
    const list = this.#profiles.get(profile) ?? this.#profiles.set(profile, []).get(profile) ?? [];
    if (list.some((granted) => JSON.stringify(granted) === JSON.stringify(entry))) return;
    list.push(entry);
    this.#checkBudget("grantGetToken");
  }

  /** Adds an admin caller. */
  addAdmin(callerArn: string): void {
    if (this.#admin.includes(callerArn)) return;
    this.#admin.push(callerArn);
    this.#checkBudget("grantInvalidate");
  }

  #checkBudget(grantMethod: string): void {
    const size = this.estimatedSize();
    if (size > GRANTED_CALLERS_BUDGET) {
      throw new Error(
        `${grantMethod}: the callers granted in code would need up to ${size} bytes in the function's ${FUNCTION_ENV.grantedCallers} environment variable, over its ${GRANTED_CALLERS_BUDGET}-byte budget (Lambda allows 4 KB of environment in all). Grant the rest through the profiles file, where one role pattern or account ID covers many callers.`,
      );
    }
    this.#attach();
  }

  /** The variable's largest possible length once CloudFormation has resolved the role ARNs. */
  estimatedSize(): number {
    const placeholder = "x".repeat(LONGEST_ROLE_ARN);
    const worstCase = (arn: string) => (Token.isUnresolved(arn) ? placeholder : arn);
    return Buffer.byteLength(
      JSON.stringify(this.#value(worstCase)) + FUNCTION_ENV.grantedCallers,
      "utf8",
    );
  }

  #value(map: (arn: string) => string): GrantedCallers {
    const entry = (granted: GrantedCaller): GrantedCaller =>
      typeof granted === "string" ? map(granted) : { ...granted, caller: map(granted.caller) };
    return {
      ...(this.#profiles.size > 0
        ? {
            profiles: Object.fromEntries(
              [...this.#profiles].map(([profile, callers]) => [profile, callers.map(entry)]),
            ),
          }
        : {}),
      ...(this.#admin.length > 0 ? { admin: this.#admin.map(map) } : {}),
    };
  }

  // The variable appears with the first grant, so a function without grants keeps its
  // environment as it was; its value is rendered at synth, after every grant.
  #attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    const stack = Stack.of(this.fn);
    this.fn.addEnvironment(
      FUNCTION_ENV.grantedCallers,
      Lazy.string({ produce: () => stack.toJsonString(this.#value((arn) => arn)) }),
    );
  }
}

/**
 * The IAM ARN that identifies the grantee's principal to the function.
 * @throws {Error} when the principal is neither a role nor a user, or is a role created in
 *   another stack than `vendingStack` (naming the grant method and what to do instead).
 */
export function callerArnOf(
  grantee: iam.IGrantable,
  grantMethod: string,
  vendingStack: Stack,
): string {
  const principal = grantee.grantPrincipal as Partial<iam.IRole & iam.IUser & Construct>;
  const arn = principal.roleArn ?? principal.userArn;
  if (typeof arn !== "string") {
    throw new Error(
      `${grantMethod}: the grantee's principal is not an IAM role or user, so the function cannot recognise it as a caller; grant a role, or list the caller in the profiles file`,
    );
  }
  // A role created in another stack has an ARN only that stack knows: the function's environment
  // would reference it while the role's policy references this API, a cycle CloudFormation
  // cannot deploy. Say so in one line rather than let CDK report the cycle.
  const theirs = principal.node ? Stack.of(principal as Construct) : vendingStack;
  if (Token.isUnresolved(arn) && theirs !== vendingStack) {
    throw new Error(
      `${grantMethod}: the grantee's role is in stack ${theirs.stackName} and the token vending in ${vendingStack.stackName}, which would then depend on each other; give the role a fixed name and grant iam.Role.fromRoleName(<a scope in ${vendingStack.stackName}>, id, name) instead, or list its ARN in the profiles`,
    );
  }
  return arn;
}
