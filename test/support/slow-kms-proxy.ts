/**
 * A KMS that is slow to `Decrypt`: an HTTP proxy in front of moto_server that holds every request
 * whose `X-Amz-Target` is `TrentService.Decrypt` for a set time, or until a test releases it, and
 * passes every other request straight through. An instance whose KMS client points here has a
 * slow phase wherever it unwraps a data key (opening a dropped token, reading the ledger), as a
 * throttled or distant KMS would give it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KMSClient } from "@aws-sdk/client-kms";

const DECRYPT_TARGET = "TrentService.Decrypt";

/** A hold of the next Decrypts, released by the test. */
export interface DecryptHold {
  /** Settles when the first Decrypt is held. */
  readonly arrived: Promise<void>;
  /** Lets the held Decrypts (and later ones) through. */
  release(): void;
}

/** The proxy. */
export class SlowKmsProxy {
  /** Every Decrypt waits this long before it is passed on. */
  decryptDelayMs = 0;
  /** Decrypts received so far. */
  decrypts = 0;
  readonly #target: string;
  readonly #server: Server;
  #gate: Promise<void> | undefined;
  #onDecrypt: (() => void) | undefined;
  #url: string | undefined;

  /** `target`: moto's endpoint (the integration setup's `AWS_ENDPOINT_URL`). */
  constructor(target = process.env.AWS_ENDPOINT_URL) {
    if (!target) throw new Error("AWS_ENDPOINT_URL is not set (the integration setup sets it)");
    this.#target = target;
    this.#server = createServer((request, response) => {
      this.#forward(request, response).catch(() => response.destroy());
    });
  }

  /** Listens on a free loopback port. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  /** A KMS client that goes through the proxy. */
  client(): KMSClient {
    if (!this.#url) throw new Error("the proxy is not started");
    return new KMSClient({ endpoint: this.#url });
  }

  /** Holds every Decrypt from now on until `release()`. */
  hold(): DecryptHold {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const arrived = new Promise<void>((resolve) => {
      this.#onDecrypt = resolve;
    });
    return {
      arrived,
      release: () => {
        this.#gate = undefined;
        release();
      },
    };
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.headers["x-amz-target"] === DECRYPT_TARGET) {
      this.decrypts += 1;
      this.#onDecrypt?.();
      if (this.decryptDelayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.decryptDelayMs));
      }
      await this.#gate;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const upstream = await fetch(new URL(request.url ?? "/", this.#target), {
      method: request.method ?? "POST",
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    const answer: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name) && name !== "content-encoding") answer[name] = value;
    });
    response.writeHead(upstream.status, { ...answer, "content-length": String(body.length) });
    response.end(body);
  }
}

const HOP_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
]);
