/**
 * Resources in moto_server for integration tests, through the real SDK clients (which find moto
 * through AWS_ENDPOINT_URL, set by the global setup).
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";

export const dynamodb = new DynamoDBClient({});
export const secretsManager = new SecretsManagerClient({});
export const kms = new KMSClient({});

/** A unique name, so test files sharing one moto never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Creates a token table with the stack's key schema and TTL attribute. */
export async function createTokenTable(): Promise<string> {
  const tableName = uniqueName("tokens");
  await ensureTokenTable(dynamodb, tableName);
  return tableName;
}

/** Creates a symmetric KMS key and returns its ID. */
export async function createKey(): Promise<string> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: "token test key" }));
  if (!KeyMetadata?.KeyId) throw new Error("moto created no key");
  return KeyMetadata.KeyId;
}

/** Creates a secret holding `value` as JSON; returns its name. */
export async function createSecret(name: string, value: unknown): Promise<string> {
  await secretsManager.send(
    new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
  );
  return name;
}

/** Stores a new version of a secret. */
export async function rotateSecret(name: string, value: unknown): Promise<void> {
  await secretsManager.send(
    new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify(value) }),
  );
}
