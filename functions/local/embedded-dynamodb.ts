/**
 * A DynamoDB-compatible store in this process (dynalite, in memory) and an SDK client for it,
 * for the local server and the benchmark.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { listen } from "./server.js";

/** A running in-memory store. */
export interface EmbeddedDynamoDb {
  /** A client pointed at the store, whatever AWS_ENDPOINT_URL says. */
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

/** Starts dynalite on a free loopback port. It has no TTL API; the token cache never needs one. */
export async function startEmbeddedDynamoDb(): Promise<EmbeddedDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await listen(server, 0);
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  return {
    client,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
