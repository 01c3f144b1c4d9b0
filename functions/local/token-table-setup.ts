/**
 * Creating the token table where it does not exist (local server `--table`, tests), with the key
 * schema and TTL attribute of {@link TOKEN_TABLE_SCHEMA}: the same definition the stack uses.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { TOKEN_TABLE_SCHEMA } from "../adapters/token-table.js";

/** Options of {@link ensureTokenTable}. */
export interface EnsureTableOptions {
  /**
   * Enable TTL on a table this call creates. Off only for stores without the TTL API (dynalite).
   * @default true
   */
  readonly enableTtl?: boolean;
}

/** Creates the table unless it exists; returns whether it was created. */
export async function ensureTokenTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureTableOptions = {},
): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const { partitionKey, timeToLiveAttribute } = TOKEN_TABLE_SCHEMA;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: "S" }],
      KeySchema: [{ AttributeName: partitionKey, KeyType: "HASH" }],
    }),
  );
  await waitUntilTableExists(
    { client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { TableName: tableName },
  );
  if (options.enableTtl ?? true) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: timeToLiveAttribute, Enabled: true },
      }),
    );
  }
  return true;
}
