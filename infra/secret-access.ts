/**
 * The function's read access to the profiles' secrets: `secretsmanager:GetSecretValue` on exactly
 * the secrets the profiles name, and nothing else.
 */
import { ArnFormat, type IResource, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type { ProfilesConfig } from "../functions/core/profiles.js";

/** Lets the function read every secret the profiles name. */
export function grantSecretReads(
  grantee: iam.IGrantable & IResource,
  config: ProfilesConfig,
): iam.Grant {
  const secretIds = [...new Set([...config.profiles.values()].map((profile) => profile.secretId))];
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ["secretsmanager:GetSecretValue"],
    resourceArns: secretIds.map((secretId) => secretArn(Stack.of(grantee), secretId)),
  });
}

// A secret's full ARN ends in "-" and the six characters Secrets Manager appends to its name.
const FULL_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+-[A-Za-z0-9]{6}$/;

// A full ARN names exactly one secret: granted as written. A name, or an ARN without the six
// characters (a partial ARN), gets `-??????`, which matches exactly those six and nothing longer.
function secretArn(stack: Stack, secretId: string): string {
  if (FULL_ARN.test(secretId)) return secretId;
  if (secretId.startsWith("arn:")) return `${secretId}-??????`;
  return stack.formatArn({
    service: "secretsmanager",
    resource: "secret",
    resourceName: `${secretId}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
