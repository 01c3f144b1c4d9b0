/**
 * The token key: only the vending function may use it, and changes to it are reported. Construct
 * IDs are the stack's: `TokenKey`, `TokenKeyChangeRule`.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { TOKEN_KEY_ENCRYPTION_CONTEXT } from "../functions/adapters/token-key-context.js";
import { AlarmTopicTarget } from "./alarm-topic.js";

// A key only the function may use for data keys: the key policy gives the account's
// administrators key management but no cryptographic use, so neither IAM policies elsewhere in the
// account nor a reader of the table or its backups can open a token.
export function tokenKey(scope: Construct, role: iam.IRole, removalPolicy: RemovalPolicy): kms.Key {
  const key = new kms.Key(scope, "TokenKey", {
    description: "Envelope-encrypts tokens cached by cyberark-token-vending",
    enableKeyRotation: true,
    removalPolicy,
    policy: new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: "KeyAdministrationWithoutUse",
          principals: [new iam.AccountRootPrincipal()],
          actions: KEY_ADMIN_ACTIONS,
          resources: ["*"],
        }),
      ],
    }),
  });
  // Only with the adapter's encryption context: the role's use of the key is this service's data
  // keys, not anything else someone might seal under it.
  iam.Grant.addToPrincipalAndResource({
    grantee: role,
    actions: ["kms:GenerateDataKey", "kms:Decrypt"],
    resourceArns: [key.keyArn],
    resource: key,
    resourceSelfArns: ["*"],
    conditions: tokenKeyContextConditions(),
  });
  return key;
}

/** The conditions of the function's grant: exactly the adapter's encryption context. */
export function tokenKeyContextConditions(): Record<string, Record<string, unknown>> {
  const pairs = Object.entries(TOKEN_KEY_ENCRYPTION_CONTEXT);
  return {
    StringEquals: Object.fromEntries(
      pairs.map(([name, value]) => [`kms:EncryptionContext:${name}`, value]),
    ),
    // No other context key rides along (a context with more pairs is another context).
    "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": pairs.map(([name]) => name) },
  };
}

// Changes to the token key are reported from CloudTrail's management events: PutKeyPolicy stays
// with the account, so a changed policy (or a grant, a disabled or doomed key) must be seen.
// Keys may be named by ID, ARN or alias in the request; CloudTrail's resources give the ARN.
export function keyChangeRule(scope: Construct, key: kms.IKey, topic: sns.ITopic): events.Rule {
  return new events.Rule(scope, "TokenKeyChangeRule", {
    description:
      "Changes to the cyberark-token-vending token key (policy, grants, disable, deletion)",
    eventPattern: {
      source: ["aws.kms"],
      detailType: ["AWS API Call via CloudTrail"],
      detail: {
        eventSource: ["kms.amazonaws.com"],
        eventName: ["PutKeyPolicy", "CreateGrant", "DisableKey", "ScheduleKeyDeletion"],
        $or: [
          { requestParameters: { keyId: [key.keyId, key.keyArn] } },
          { resources: { ARN: [key.keyArn] } },
        ],
      },
    },
    targets: [new AlarmTopicTarget(topic)],
  });
}

const KEY_ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];
