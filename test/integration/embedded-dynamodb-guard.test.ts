/**
 * The embedded DynamoDB (dynalite) of the local server's demo mode answers nobody but the local
 * server: not a web page (cross-origin, or DNS rebinding to 127.0.0.1), and not another process
 * on the host that does not hold this process's random access key. dynalite on its own answers
 * all of them, with `Access-Control-Allow-Origin: *`.
 */
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedDynamoDb,
  startEmbeddedDynamoDb,
} from "../../functions/local/embedded-dynamodb.js";
import { captureOutput } from "../support/capture-output.js";

const output = captureOutput();
let store: EmbeddedDynamoDb;
let port: string;

beforeAll(async () => {
  store = await startEmbeddedDynamoDb();
  port = new URL(store.endpoint).port;
});
afterAll(async () => {
  output.stop();
  await store.close();
});

// What a page's fetch() sends: a simple POST (no preflight) that would Scan the table.
const SCAN = {
  "Content-Type": "application/x-amz-json-1.0",
  "X-Amz-Target": "DynamoDB_20120810.Scan",
};

async function send(headers: Record<string, string>, method = "POST") {
  const response = await fetch(store.endpoint, {
    method,
    headers,
    ...(method === "POST"
      ? { body: JSON.stringify({ TableName: "cyberark-token-vending-local" }) }
      : {}),
  });
  return {
    status: response.status,
    allowOrigin: response.headers.get("access-control-allow-origin"),
    body: await response.text(),
  };
}

describe("the embedded DynamoDB", () => {
  it("serves the local server's own client", async () => {
    const { TableNames } = await store.client.send(new ListTablesCommand({}));
    expect(TableNames).toEqual([]);
  });

  it("refuses a cross-origin request from a web page, with no CORS header", async () => {
    const answer = await send({ ...SCAN, Origin: "https://evil.example" });
    expect(answer.status).toBe(403);
    expect(answer.allowOrigin).toBeNull();
    expect(answer.body).toContain("AccessDeniedException");
  });

  it("refuses a browser's preflight, so no non-simple request follows", async () => {
    const answer = await send(
      {
        Origin: "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target,content-type",
      },
      "OPTIONS",
    );
    expect(answer.status).toBe(403);
    expect(answer.allowOrigin).toBeNull();
  });

  it("refuses a DNS-rebound request (a name of the attacker's pointing at 127.0.0.1)", async () => {
    // fetch() sets Host from the URL; a raw request shows what a rebinding page's browser sends.
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const outgoing = request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          headers: { ...SCAN, Host: `evil.example:${port}` },
        },
        (response) => resolve(response.statusCode ?? 0),
      );
      outgoing.on("error", reject);
      outgoing.end("{}");
    });
    expect(status).toBe(403);
  });

  it("refuses another local process, which does not hold this process's access key", async () => {
    const unsigned = await send(SCAN);
    const guessed = await send({
      ...SCAN,
      Authorization: `AWS4-HMAC-SHA256 Credential=local/20261204/local/dynamodb/aws4_request, SignedHeaders=host, Signature=00`,
    });
    expect([unsigned.status, guessed.status]).toEqual([403, 403]);
  });
});
