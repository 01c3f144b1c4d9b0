import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { captureOutput, type OutputCapture } from "../support/capture-output.js";

interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected field by field
  readonly json: any;
}

/** A GET with exactly these headers (no Host unless given), over real HTTP/1.1. */
function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path, method: "GET", headers, setHost: false },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    request.on("error", reject);
    request.end();
  });
}

/** An HTTP/1.0 request with no Host header at all, as a raw socket sends it. */
function getWithoutHost(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end(`GET ${path} HTTP/1.0\r\n\r\n`);
    });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk;
    });
    socket.on("error", reject);
    socket.on("end", () => {
      const [head = "", body = ""] = text.split("\r\n\r\n");
      resolve({
        status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0),
        json: body ? JSON.parse(body) : undefined,
      });
    });
  });
}

describe("local server: only requests addressed to its loopback address, and none from a web page", () => {
  let server: RunningLocalServer;
  let port: number;
  let output: OutputCapture;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0 });
    port = Number(new URL(server.url).port);
    output = captureOutput();
  });
  afterAll(async () => {
    output.stop();
    await server.close();
  });

  it.each([["127.0.0.1:PORT"], ["localhost:PORT"], ["LocalHost:PORT"], ["[::1]:PORT"]])(
    "vends a token for Host %s",
    async (host) => {
      const answer = await get(port, "/tokens/demo", { Host: host.replace("PORT", String(port)) });
      expect(answer.status).toBe(200);
      expect(answer.json.access_token).toMatch(/^ey/);
    },
  );

  it.each([
    ["127.0.0.1:OTHER", {}],
    ["localhost:OTHER", {}],
    ["[::1]:OTHER", {}],
    ["127.0.0.1", {}],
    ["attacker.example:PORT", {}],
    ["attacker.example", {}],
    ["127.0.0.1.attacker.example:PORT", {}],
    ["", {}],
    ["127.0.0.1:PORT", { Origin: "https://attacker.example" }],
    ["localhost:PORT", { Origin: "http://localhost:PORT" }],
    ["127.0.0.1:PORT", { Origin: "null" }],
  ])(
    "refuses Host %j with headers %j: 403 access_denied, the contract's JSON, logged without the header values",
    async (host, extra) => {
      const fill = (text: string) =>
        text.replace("PORT", String(port)).replace("OTHER", String(port === 1 ? 2 : port - 1));
      const headers = Object.fromEntries(
        Object.entries({ Host: host, ...extra }).map(([name, value]) => [name, fill(value)]),
      );
      const logged = output.text().length;

      const answer = await get(port, "/tokens/demo", headers);

      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({
        error: "access_denied",
        error_description: expect.any(String),
        request_id: expect.any(String),
      });
      const log = output.text().slice(logged);
      expect(log).toContain(answer.json.request_id);
      expect(log).toContain("request refused");
      for (const value of Object.values(headers).filter((v) => v !== "")) {
        expect(log).not.toContain(value);
      }
      expect(log).not.toContain("attacker");
    },
  );

  it("refuses a request without a Host header with the contract's 403", async () => {
    const answer = await getWithoutHost(port, "/tokens/demo");
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ error: "access_denied", request_id: expect.any(String) });
  });

  it("refuses a DELETE from a web page even with the admin's x-caller-arn", async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        {
          host: "127.0.0.1",
          port,
          path: "/tokens/demo",
          method: "DELETE",
          headers: {
            Origin: "https://attacker.example",
            "x-caller-arn": "arn:aws:sts::000000000000:assumed-role/demo-admin/local",
          },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      request.end();
    });
    expect(answer).toBe(403);
  });

  it("answers an unknown path with 404 and the contract's JSON, request_id included", async () => {
    const answer = await get(port, "/elsewhere", { Host: `127.0.0.1:${port}` });
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({
      error: "invalid_request",
      error_description: expect.any(String),
      request_id: expect.stringMatching(/^[\w-]+$/),
    });
  });
});

/** Sends `raw` bytes and resolves with the status and JSON body of the first answer. */
function rawAnswer(port: number, raw: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(raw));
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk;
      const [head = "", body = ""] = text.split("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? Number.NaN);
      if (Buffer.byteLength(body) >= length) {
        socket.destroy();
        resolve({
          status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0),
          json: JSON.parse(body),
        });
      }
    });
    socket.on("error", reject);
  });
}

describe("local server: what Node itself would refuse, and bodies", () => {
  let server: RunningLocalServer;
  let port: number;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0 });
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server.close();
  });

  it.each([
    [
      "a header name with a control character",
      "GET /tokens/demo HTTP/1.1\r\nHost: x\r\nBad\x01Name: 1\r\n\r\n",
    ],
    ["an unknown HTTP version", "GET /tokens/demo HTTP/9.9\r\n\r\n"],
    ["headers too large", `GET /tokens/demo HTTP/1.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`],
  ])("answers %s with the contract's 400 JSON and a request_id", async (_, raw) => {
    const answer = await rawAnswer(port, raw);

    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({
      error: "invalid_request",
      error_description: expect.any(String),
      request_id: expect.stringMatching(/^[\w-]+$/),
    });
  });

  it("refuses a request from a web page without waiting for, or reading, its body", async () => {
    // A 100 MB body announced, none sent: the answer comes from the headers alone.
    const answer = await rawAnswer(
      port,
      `POST /tokens/demo HTTP/1.1\r\nHost: attacker.example:${port}\r\nContent-Length: 100000000\r\n\r\n`,
    );

    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe("access_denied");
  });

  it("answers a large body on an allowed request with 400, keeping only its start", async () => {
    const body = "x".repeat(1024 * 1024);
    const answer = await rawAnswer(
      port,
      `GET /tokens/demo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );

    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe("invalid_request");
  });
});
