/**
 * DynamoDB profile stores for integration tests: on moto (KMS envelope or a process key) and on
 * the local server's embedded store, each over a fresh table, with a logger that keeps its lines.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbProfileStore } from "../../functions/adapters/dynamodb-profile-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import {
  EnvelopeCipher,
  ProcessKeyProvider,
  type TokenCipher,
} from "../../functions/adapters/token-cipher.js";
import type { Logger } from "../../functions/core/ports.js";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";
import { createKey, createTokenTable, dynamodb, kms, uniqueName } from "./aws.js";

/** A logger that keeps what it is told. */
export class LinesLogger implements Logger {
  readonly lines: { message: string; attributes: Record<string, unknown> }[] = [];
  warn(message: string, attributes: Record<string, unknown>): void {
    this.lines.push({ message, attributes });
  }
}

/** A store, its table and what it logs. */
export interface StoreOnTable {
  readonly store: DynamoDbProfileStore;
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly cipher: TokenCipher;
  readonly logger: LinesLogger;
}

/** A store on moto over a fresh table; sealed with a moto KMS key unless `kmsKey` is false. */
export async function storeOnMoto(
  options: { kmsKey?: boolean; now?: () => number } = {},
): Promise<StoreOnTable> {
  const [tableName, keyId] = await Promise.all([
    createTokenTable(),
    options.kmsKey === false ? undefined : createKey(),
  ]);
  const cipher = new EnvelopeCipher(
    keyId === undefined ? new ProcessKeyProvider() : new KmsDataKeys(kms, keyId),
  );
  const logger = new LinesLogger();
  const store = new DynamoDbProfileStore(dynamodb, tableName, cipher, logger, options.now);
  return { store, client: dynamodb, tableName, cipher, logger };
}

/** A store on an embedded (dynalite) client over a fresh table. */
export async function storeOnClient(client: DynamoDBClient): Promise<StoreOnTable> {
  const tableName = uniqueName("tokens");
  await ensureTokenTable(client, tableName, { enableTtl: false });
  const cipher = new EnvelopeCipher(new ProcessKeyProvider());
  const logger = new LinesLogger();
  const store = new DynamoDbProfileStore(client, tableName, cipher, logger);
  return { store, client, tableName, cipher, logger };
}
