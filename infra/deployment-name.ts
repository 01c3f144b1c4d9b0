/**
 * A deployment's name: its default, its shape, and one name per account in an app. The name is the
 * dashboard's, the alarms' prefix and the `Deployment` dimension of every metric, and a dashboard's
 * name is global in its account.
 */
import { Names, Stack, Token } from "aws-cdk-lib";
import type { Construct, IConstruct } from "constructs";

// A deployment's name is a dashboard name too: letters, digits, "-" and "_".
const MAX_NAME = 64;
const DEPLOYMENT_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_NAME}}$`);
// Room kept for a region not known at synth (the longest today has 14 characters).
const MAX_REGION = 20;

// The names taken in each app: for each, the constructs that took it and their stacks' accounts.
const NAMES_TAKEN = new WeakMap<IConstruct, Map<string, { path: string; account: string }[]>>();

/**
 * The construct's path, then its region: a dashboard's name is global in an account, so the same
 * stack deployed to two regions needs two names. A stack without a region gets the region it is
 * deployed to (a CloudFormation reference), which the function's environment receives too.
 */
export function defaultName(scope: Construct): string {
  const { region } = Stack.of(scope);
  const room = Token.isUnresolved(region) ? MAX_REGION : region.length;
  const path = Names.uniqueResourceName(scope, { maxLength: MAX_NAME - 1 - room, separator: "-" });
  return `${path}-${region}`;
}

/**
 * Refuses a name another construct of the app took already in the same account (or where either
 * account is unknown at synth): their dashboards would collide, a dashboard's name being global in
 * its account. Two accounts (a stage per account, say) may each have a deployment of one name.
 */
export function takeName(scope: Construct, name: string): void {
  if (Token.isUnresolved(name)) return;
  const root = scope.node.root;
  const taken = NAMES_TAKEN.get(root) ?? new Map<string, { path: string; account: string }[]>();
  NAMES_TAKEN.set(root, taken);
  const { account } = Stack.of(scope);
  const holders = taken.get(name) ?? [];
  const unknown = (value: string) => Token.isUnresolved(value);
  const holder = holders.find(
    (other) => unknown(account) || unknown(other.account) || other.account === account,
  );
  if (holder !== undefined) {
    throw new Error(
      `CyberArkTokenVending: name "${name}" is already the name of ${holder.path} in this app; give each deployment a name of its own (its dashboard's name is global in the account)`,
    );
  }
  taken.set(name, [...holders, { path: scope.node.path, account }]);
}

/** Refuses a name that is not 1 to 64 letters, digits, "-" or "_" (a token resolved at deploy passes). */
export function checkName(name: string): void {
  if (!Token.isUnresolved(name) && !DEPLOYMENT_NAME.test(name)) {
    throw new Error(
      `CyberArkTokenVending: name "${name}" must be 1 to ${MAX_NAME} letters, digits, "-" or "_"`,
    );
  }
}
