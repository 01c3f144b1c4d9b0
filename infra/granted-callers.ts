/**
 * Callers granted in CDK code, collected at synth and handed to the function at deploy time.
 *
 * A grantee's role ARN is a CloudFormation token at synth, so it cannot be written into the
 * profiles file bundled with the function. It travels instead in one environment variable of
 * compact JSON, which CloudFormation fills in (the function merges it with the file's callers at
 * cold start, see `functions/core/granted-callers.ts`). Lambda allows 4 KB of environment in all,
 * so the variable has a budget, checked at each grant, with a clear message when it is exceeded.
 */
import { Lazy, Stack, Token } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import type { GrantedCallers } from "../functions/core/granted-callers.js";

/** Bytes the variable may take; the rest of the 4 KB holds the function's other variables. */
export const GRANTED_CALLERS_BUDGET = 3072;

// The longest ARN a role created in the app can resolve to: the longest partition prefix
// ("arn:aws-iso-b:iam::123456789012:role/") and a 64-character role name. Roles with a path are
// either written out (then measured as written) or rare enough to leave to the profiles file.
const LONGEST_ROLE_ARN = 37 + 64;

/** The set of granted callers of one vending function. */
export class GrantedCallerList {
  readonly #profiles = new Map<string, string[]>();
  readonly #admin: string[] = [];
  #attached = false;

  constructor(private readonly fn: lambda.Function) {}

  /** Adds a caller of `profile`, or an admin caller when `profile` is undefined. */
  add(profile: string | undefined, callerArn: string, grantMethod: string): void {
    const list =
      profile === undefined
        ? this.#admin
        : (this.#profiles.get(profile) ?? this.#profiles.set(profile, []).get(profile) ?? []);
    if (list.includes(callerArn)) return;
    list.push(callerArn);
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
    const worstCase = (arns: readonly string[]) =>
      arns.map((arn) => (Token.isUnresolved(arn) ? placeholder : arn));
    return Buffer.byteLength(
      JSON.stringify(this.#value(worstCase)) + FUNCTION_ENV.grantedCallers,
      "utf8",
    );
  }

  #value(map: (arns: readonly string[]) => readonly string[]): GrantedCallers {
    return {
      ...(this.#profiles.size > 0
        ? {
            profiles: Object.fromEntries(
              [...this.#profiles].map(([profile, arns]) => [profile, map(arns)]),
            ),
          }
        : {}),
      ...(this.#admin.length > 0 ? { admin: map(this.#admin) } : {}),
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
      Lazy.string({ produce: () => stack.toJsonString(this.#value((arns) => arns)) }),
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
