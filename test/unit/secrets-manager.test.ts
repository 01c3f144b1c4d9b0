import {
  DecryptionFailure,
  GetSecretValueCommand,
  InternalServiceError,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { SecretsManagerSource } from "../../functions/adapters/secrets-manager.js";
import { ConfigurationError, UpstreamUnavailableError } from "../../functions/core/errors.js";

const secretsManager = mockClient(SecretsManagerClient);
const source = new SecretsManagerSource(new SecretsManagerClient({ region: "eu-west-1" }));
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:cyberark/ci-AbCdEf";

beforeEach(() => {
  secretsManager.reset();
});

describe("SecretsManagerSource", () => {
  it("returns the secret string and its version", async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: "cyberark/ci" }).resolves({
      SecretString: '{"client_id":"a","client_secret":"b"}',
      VersionId: "v-123",
    });

    await expect(source.read("cyberark/ci")).resolves.toEqual({
      secretString: '{"client_id":"a","client_secret":"b"}',
      versionId: "v-123",
    });
  });

  it.each([
    [
      "missing",
      new ResourceNotFoundException({ message: `Secret ${SECRET_ARN} not found`, $metadata: {} }),
    ],
    [
      "undecryptable",
      new DecryptionFailure({ message: `cannot decrypt ${SECRET_ARN}`, $metadata: {} }),
    ],
    [
      "denied",
      new SecretsManagerServiceException({
        name: "AccessDeniedException",
        $fault: "client",
        message: `User is not authorized on ${SECRET_ARN}`,
        $metadata: {},
      }),
    ],
  ])("maps a %s secret to a configuration error that does not quote the ARN", async (_, error) => {
    secretsManager.on(GetSecretValueCommand).rejects(error);

    const thrown = await source.read("cyberark/ci").catch((e: unknown) => e);

    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).message).not.toContain("111122223333");
  });

  it("maps a binary secret to a configuration error", async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretBinary: new Uint8Array([1]), VersionId: "v" });
    await expect(source.read("cyberark/ci")).rejects.toBeInstanceOf(ConfigurationError);
  });

  it("maps a Secrets Manager outage to upstream_unavailable, not to a configuration error", async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(new InternalServiceError({ message: "boom", $metadata: {} }));
    await expect(source.read("cyberark/ci")).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });
});
