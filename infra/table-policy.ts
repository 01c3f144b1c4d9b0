/**
 * The token table's resource-based policy: nobody but the vending function's role (and a
 * break-glass role, when one is named) may write the table's items, whatever their own IAM
 * policies allow. A writer could not forge a token (items are sealed with the token key), but a
 * believable refresh lease, back-off or `DELETE` record stops or slows a profile for as long as
 * it is rewritten; so the writers are shut out here, and the code ignores what no genuine writer
 * could have written.
 *
 * What the policy leaves alone, and why:
 * - control-plane calls (`UpdateTable`, `UpdateTimeToLive`, `PutResourcePolicy`, `DeleteTable`):
 *   CloudFormation must keep managing the table and this policy; changes to the policy itself are
 *   reported (see `service-change-rules.ts`);
 * - reads: every item is sealed, so a reader learns nothing without the token key;
 * - TTL deletions: DynamoDB's own sweeper, not a principal's request, and service principals are
 *   left out of the statement in any case;
 * - `ImportTable`, `RestoreTableFromBackup`, `RestoreTableToPointInTime`: each creates a new
 *   table and never writes this one (the function uses only the table it was deployed with).
 */

import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";

/** Every data-plane action that changes an item (transactions are authorized item by item). */
export const TABLE_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:PartiQLInsert",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
] as const;

/** The statement's ID, for tests and for a reader of the deployed policy. */
export const WRITERS_SID = "OnlyTheVendingFunctionWritesItems";

/**
 * Adds the deny-all-other-writers statement to the table's resource policy.
 * The resource is `*` (this table and its indexes): a table's own ARN cannot appear in its own
 * CloudFormation resource, and the role is matched by `aws:PrincipalArn`, not named as the
 * principal, so the table depends on the role and never the other way round (the role's policy
 * already depends on the table).
 */
export function denyOtherTableWriters(
  table: dynamodb.Table,
  writer: iam.IRole,
  breakGlassRole: iam.IRole | undefined,
): void {
  const writers = [writer.roleArn, ...(breakGlassRole ? [breakGlassRole.roleArn] : [])];
  table.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: WRITERS_SID,
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: [...TABLE_WRITE_ACTIONS],
      resources: ["*"],
      conditions: {
        // For a role session, aws:PrincipalArn is the role's ARN, whatever the session name.
        ArnNotEquals: { "aws:PrincipalArn": writers },
        // Requests by AWS services on their own behalf (never a person) are not the threat here.
        BoolIfExists: { "aws:PrincipalIsAWSService": "false" },
      },
    }),
  );
}
