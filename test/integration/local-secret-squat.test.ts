/**
 * The local server binds 127.0.0.1 only, so [::1] on its port (and `localhost`, where it resolves
 * to ::1 first) is free for another user of the host to listen on. The client and the CLI
 * therefore send the per-start secret to `http://127.0.0.1:PORT` alone: a squatter on [::1]:PORT
 * that the victim's client is pointed at gets a request without it.
 */
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRequest } from "../../functions/client/request.js";
import {
  LOCAL_SECRET_HEADER,
  type LocalSecret,
  writeLocalSecret,
} from "../../functions/common/local-secret.js";

const TOKEN = { access_token: "chosen-by-the-listener", token_type: "Bearer", expires_in: 3600 };

/** A listener that records the headers of every request it gets. */
function recorder(): { server: Server; seen: IncomingHttpHeaders[] } {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(TOKEN));
  });
  return { server, seen };
}

const listenOn = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

const squatter = recorder(); // another user's, on [::1]:PORT
const localServer = recorder(); // the victim's local server, on 127.0.0.1:PORT
let port: number;
let secret: LocalSecret;

async function get(url: string) {
  return sendRequest({
    method: "GET",
    url: new URL(url),
    signal: new AbortController().signal,
    attemptTimeoutMs: 5_000,
    signer: {
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-real-key" },
      now: Date.now,
    },
    fetch,
  });
}

beforeAll(async () => {
  process.env.CYBERARK_TOKEN_LOCAL_DIR = join(mkdtempSync(join(tmpdir(), "ctv-squat-")), "dir");
  port = await listenOn(squatter.server, 0, "::1");
  await listenOn(localServer.server, port, "127.0.0.1");
  secret = writeLocalSecret(port);
});

afterAll(() => {
  secret.remove();
  squatter.server.close();
  localServer.server.close();
});

describe("the per-start secret goes to 127.0.0.1 only", () => {
  it("is not sent to a listener on [::1] at the local server's port", async () => {
    const answer = await get(`http://[::1]:${port}/tokens/demo`);

    expect(answer.status).toBe(200);
    expect(squatter.seen).toHaveLength(1);
    expect(squatter.seen[0]?.[LOCAL_SECRET_HEADER]).toBeUndefined();
    expect(JSON.stringify(squatter.seen)).not.toContain(secret.secret);
  });

  it("is not sent to localhost, whichever address that resolves to", async () => {
    const before = squatter.seen.length + localServer.seen.length;
    await get(`http://localhost:${port}/tokens/demo`);

    const reached = [...squatter.seen, ...localServer.seen].slice(before);
    expect(reached).toHaveLength(1);
    expect(reached[0]?.[LOCAL_SECRET_HEADER]).toBeUndefined();
  });

  it("is sent to the address the local server binds, 127.0.0.1", async () => {
    await get(`http://127.0.0.1:${port}/tokens/demo`);

    expect(localServer.seen.at(-1)?.[LOCAL_SECRET_HEADER]).toBe(secret.secret);
  });
});
