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
    resourceArns: secretIds.flatMap((secretId) => secretArns(Stack.of(grantee), secretId)),
  });
}

// A name gets the six-character suffix Secrets Manager adds (`-??????` matches exactly that);
// an ARN is taken as written and also as a partial ARN, since a name may itself contain "-".
function secretArns(stack: Stack, secretId: string): string[] {
  if (secretId.startsWith("arn:")) return [secretId, `${secretId}-??????`];
  return [
    stack.formatArn({
      service: "secretsmanager",
      resource: "secret",
      resourceName: `${secretId}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  ];
}
