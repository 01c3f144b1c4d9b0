/**
 * Why the local server could not use an AWS service at start-up (`--profiles` mode), in one line
 * that names what is missing and how to provide it. The SDK's own errors for the two usual causes
 * (no region, no credentials) carry only a class name or a generic text.
 */
import { describeUnknown } from "../core/errors.js";

const NO_REGION =
  "no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1), or choose a profile with a region (AWS_PROFILE=...)";
const NO_CREDENTIALS =
  "no AWS credentials: set AWS_PROFILE to a profile of ~/.aws/config (after aws sso login if it uses SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or run where a role provides them";

/** One line saying why `service` could not be used, and what to do when the fix is known. */
export function describeSetupError(service: string, error: unknown): string {
  const where = process.env.AWS_ENDPOINT_URL ? ` at ${process.env.AWS_ENDPOINT_URL}` : "";
  return `cannot use ${service}${where}: ${whatIsMissing(error)}`;
}

function whatIsMissing(error: unknown): string {
  if (!(error instanceof Error)) return describeUnknown(error);
  if (/region is missing/i.test(error.message)) return NO_REGION;
  if (
    error.name === "CredentialsProviderError" ||
    /could not load credentials/i.test(error.message)
  ) {
    return NO_CREDENTIALS;
  }
  // Other SDK errors name the problem in their first line (never a secret: these are set-up calls).
  const firstLine = error.message.split("\n")[0]?.slice(0, 200) ?? "";
  return firstLine ? `${describeUnknown(error)}: ${firstLine}` : describeUnknown(error);
}
