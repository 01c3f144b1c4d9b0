/**
 * A CyberArk Identity tenant in a box, for the local server and the tests: the two token
 * endpoints, both client-auth styles, JWT-shaped tokens with `exp`, `invalid_client` on wrong
 * credentials, and injectable faults (status, delay, reset, body). Never deployed.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { readBody } from "./http-body.js";

/** A confidential client the simulated tenant knows. */
export interface SimulatedClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A custom OAuth2 application (`/oauth2/token/{id}`). */
export interface SimulatedApplication {
  /** Scopes it grants; a request for another is `invalid_scope`. Absent: any scope. */
  readonly scopes?: readonly string[];
}

/** Options of {@link IdentitySimulator}. */
export interface IdentitySimulatorOptions {
  readonly clients: readonly SimulatedClient[];
  /** @default {} */
  readonly applications?: Readonly<Record<string, SimulatedApplication>>;
  /** Lifetime of issued tokens. @default 3600 */
  readonly tokenLifetimeSeconds?: number;
  /** Serve HTTPS with this key and certificate; plain HTTP without. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Epoch milliseconds; tokens' `iat`/`exp` come from it. @default Date.now */
  readonly now?: () => number;
}

/** What the simulator saw of one token request (never the secret). */
export interface RecordedRequest {
  readonly path: string;
  readonly clientAuth: "body" | "basic" | "none";
  readonly clientId: string | undefined;
  readonly scope: string | undefined;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
}

/** A fault to apply to the next request(s) instead of the normal answer. */
export type SimulatedFault =
  | {
      readonly kind: "status";
      readonly status: number;
      readonly body?: string;
      readonly retryAfter?: string;
    }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "reset" }
  | { readonly kind: "body"; readonly contentType: string; readonly body: string };

/** The simulated tenant. */
export class IdentitySimulator {
  /** Every token request received, in order. */
  readonly requests: RecordedRequest[] = [];
  readonly #options: IdentitySimulatorOptions;
  readonly #clients: Map<string, string>;
  readonly #signingKey = randomBytes(32);
  readonly #faults: SimulatedFault[] = [];
  readonly #server: Server;
  #url: string | undefined;

  constructor(options: IdentitySimulatorOptions) {
    this.#options = options;
    this.#clients = new Map(
      options.clients.map((client) => [client.clientId, client.clientSecret]),
    );
    const listener = (request: IncomingMessage, response: ServerResponse) => {
      this.#handle(request, response).catch(() => response.destroy());
    };
    this.#server = options.tls
      ? createHttpsServer(options.tls, listener)
      : createHttpServer(listener);
  }

  /** The tenant URL (origin), once started. */
  get url(): string {
    if (!this.#url) throw new Error("the simulator is not started");
    return this.#url;
  }

  /** Listens on 127.0.0.1 (port 0: any free port) and returns the tenant URL. */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    this.#url = `${this.#options.tls ? "https" : "http"}://127.0.0.1:${address.port}`;
    return this.#url;
  }

  /** Stops listening and closes kept-alive connections. */
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Applies `fault` to each of the next `times` requests, after any already queued. */
  failNext(fault: SimulatedFault, times = 1): void {
    for (let i = 0; i < times; i += 1) this.#faults.push(fault);
  }

  /** Forgets recorded requests and queued faults. */
  reset(): void {
    this.requests.length = 0;
    this.#faults.length = 0;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = new URL(request.url ?? "/", "http://simulator").pathname;
    const form = new URLSearchParams(body);
    const credentials = clientCredentialsOf(request, form);
    this.requests.push({
      path,
      clientAuth: credentials.style,
      clientId: credentials.clientId,
      scope: form.get("scope") ?? undefined,
      contentType: request.headers["content-type"],
      accept: request.headers.accept,
    });

    const fault = this.#faults.shift();
    if (fault?.kind === "reset") return void request.socket.destroy();
    if (fault?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === "status") {
      const headers = fault.retryAfter ? { "Retry-After": fault.retryAfter } : {};
      return send(
        response,
        fault.status,
        fault.body ?? JSON.stringify({ error: "server_error" }),
        headers,
      );
    }
    if (fault?.kind === "body") {
      response.writeHead(200, { "Content-Type": fault.contentType });
      return void response.end(fault.body);
    }

    const applicationId = /^\/oauth2\/token\/([^/]+)$/.exec(path)?.[1];
    if (
      request.method !== "POST" ||
      (path !== "/oauth2/platformtoken" && applicationId === undefined)
    ) {
      return oauthError(response, 404, "invalid_request");
    }
    if (!request.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) {
      return oauthError(response, 400, "invalid_request");
    }
    if (form.get("grant_type") !== "client_credentials") {
      return oauthError(response, 400, "unsupported_grant_type");
    }
    const expectedSecret =
      credentials.clientId === undefined ? undefined : this.#clients.get(credentials.clientId);
    if (expectedSecret === undefined || expectedSecret !== credentials.clientSecret) {
      return oauthError(response, 401, "invalid_client");
    }
    const scope = form.get("scope") ?? undefined;
    if (applicationId !== undefined) {
      const application = this.#options.applications?.[decodeURIComponent(applicationId)];
      if (!application) return oauthError(response, 400, "invalid_request");
      if (scope !== undefined && application.scopes && !application.scopes.includes(scope)) {
        return oauthError(response, 400, "invalid_scope");
      }
    }
    const lifetime = this.#options.tokenLifetimeSeconds ?? 3600;
    const accessToken = this.#issueJwt(credentials.clientId ?? "", scope, lifetime);
    send(
      response,
      200,
      JSON.stringify({
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: lifetime,
        ...(scope === undefined ? {} : { scope }),
      }),
    );
  }

  #issueJwt(subject: string, scope: string | undefined, lifetimeSeconds: number): string {
    const iat = Math.floor((this.#options.now ?? Date.now)() / 1000);
    const header = encodeJson({ alg: "HS256", typ: "JWT" });
    const payload = encodeJson({
      iss: this.#url,
      sub: subject,
      iat,
      exp: iat + lifetimeSeconds,
      jti: randomUUID(),
      ...(scope === undefined ? {} : { scope }),
    });
    const signature = createHmac("sha256", this.#signingKey)
      .update(`${header}.${payload}`)
      .digest("base64url");
    return `${header}.${payload}.${signature}`;
  }
}

function clientCredentialsOf(
  request: IncomingMessage,
  form: URLSearchParams,
): {
  style: RecordedRequest["clientAuth"];
  clientId: string | undefined;
  clientSecret: string | undefined;
} {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith("Basic ")) {
    // RFC 6749 2.3.1: the parts were form-urlencoded before Base64.
    const decoded = Buffer.from(authorization.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const decode = (part: string) => new URLSearchParams(`v=${part}`).get("v") ?? "";
    return {
      style: "basic",
      clientId: decode(decoded.slice(0, colon)),
      clientSecret: decode(decoded.slice(colon + 1)),
    };
  }
  const clientId = form.get("client_id") ?? undefined;
  return {
    style: clientId === undefined ? "none" : "body",
    clientId,
    clientSecret: form.get("client_secret") ?? undefined,
  };
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
  response.end(body);
}

function oauthError(response: ServerResponse, status: number, error: string): void {
  send(response, status, JSON.stringify({ error, error_description: `simulated ${error}` }));
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
