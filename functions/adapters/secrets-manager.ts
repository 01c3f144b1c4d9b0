/**
 * Profile credentials from AWS Secrets Manager.
 */
import {
  DecryptionFailure,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { ConfigurationError, describeUnknown, UpstreamUnavailableError } from "../core/errors.js";
import type { SecretSource, SecretValue } from "../core/ports.js";

// IAM denials arrive as a plain service exception, so they are recognised by name.
const UNREADABLE = [
  ResourceNotFoundException,
  InvalidRequestException,
  InvalidParameterException,
  DecryptionFailure,
];

/** Reads secrets with `GetSecretValue`; the core caches and parses them. */
export class SecretsManagerSource implements SecretSource {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async read(secretId: string): Promise<SecretValue> {
    try {
      const output = await this.#client.send(new GetSecretValueCommand({ SecretId: secretId }));
      if (output.SecretString === undefined || output.VersionId === undefined) {
        throw new ConfigurationError(
          "the secret has no SecretString (binary secrets are not supported)",
        );
      }
      return { secretString: output.SecretString, versionId: output.VersionId };
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      // The SDK's message may quote the secret's ARN; only the error's class name is kept.
      if (UNREADABLE.some((type) => error instanceof type) || isAccessDenied(error)) {
        throw new ConfigurationError(`the secret cannot be read: ${describeUnknown(error)}`);
      }
      throw new UpstreamUnavailableError({
        dependency: "secrets",
        kind: "failed",
        detail: `Secrets Manager failed: ${describeUnknown(error)}`,
        retryAfterSeconds: SECRETS_RETRY_AFTER_SECONDS,
      });
    }
  }
}

const SECRETS_RETRY_AFTER_SECONDS = 5;

function isAccessDenied(error: unknown): boolean {
  return error instanceof Error && error.name === "AccessDeniedException";
}
