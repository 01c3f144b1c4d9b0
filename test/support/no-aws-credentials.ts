/**
 * The environment of a machine without AWS credentials, for child processes.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * This process's environment less every `AWS_` variable (the global setup puts test credentials
 * and moto's endpoint there), with empty config and credentials files and no instance metadata
 * service to ask: the default credential chain finds nothing.
 */
export function withoutAwsCredentials(): Record<string, string> {
  const empty = join(mkdtempSync(join(tmpdir(), "ctv-no-aws-")), "empty");
  writeFileSync(empty, "");
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("AWS_")) env[name] = value;
  }
  return {
    ...env,
    AWS_CONFIG_FILE: empty,
    AWS_SHARED_CREDENTIALS_FILE: empty,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}
