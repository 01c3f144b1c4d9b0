/**
 * A DynamoDB-compatible store in this process (dynalite, in memory) and an SDK client for it,
 * for the local server and the benchmark.
 *
 * dynalite itself answers anyone: it sends `Access-Control-Allow-Origin: *`, allows any headers a
 * browser asks for and ignores signatures, so a web page that found its port could read and write
 * the table. It therefore listens behind the local server's guard (no `Origin`, a loopback `Host`
 * naming its own port), and answers only requests signed with this process's random access key,
 * which no other process knows: not a web page, not another user on the host.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { refusalReason } from "./loopback-guard.js";
import { listen } from "./server.js";

/** A running in-memory store. */
export interface EmbeddedDynamoDb {
  /** A client pointed at the store, whatever AWS_ENDPOINT_URL says. */
  readonly client: DynamoDBClient;
  /** Where the store listens (for tests that knock on it). */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on a free loopback port. It has no TTL API; the token cache never needs one. */
export async function startEmbeddedDynamoDb(): Promise<EmbeddedDynamoDb> {
  const inner = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const serve = inner.listeners("request")[0] as RequestListener;
  const accessKeyId = `LOCAL${randomBytes(12).toString("hex").toUpperCase()}`;
  const server = createServer((request, response) => {
    if (refused(request, accessKeyId)) {
      // No CORS header: a browser shows the page nothing, not even this refusal.
      response.writeHead(403, {
        "Content-Type": "application/x-amz-json-1.0",
        Connection: "close",
      });
      response.end(
        JSON.stringify({
          __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
          message: "The embedded store answers only the local server that started it.",
        }),
      );
      return;
    }
    serve(request, response);
  });
  const port = await listen(server, 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId, secretAccessKey: randomBytes(16).toString("hex") },
  });
  return {
    client,
    endpoint,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// The guard first; then the SigV4 Authorization header must name our access key (the signature
// itself is not checked: the key ID never leaves this process, so naming it is the proof).
function refused(request: IncomingMessage, accessKeyId: string): boolean {
  if (refusalReason({ headers: request.headers, localPort: request.socket.localPort ?? 0 })) {
    return true;
  }
  const credential = /\bCredential=([^/,\s]+)\//.exec(request.headers.authorization ?? "");
  return credential?.[1] !== accessKeyId;
}
