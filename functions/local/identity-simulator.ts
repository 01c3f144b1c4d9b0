/**
 * A CyberArk Identity tenant in a box, for the local server and the tests: the two token
 * endpoints, both client-auth styles, JWT-shaped tokens with `exp`, `invalid_client` on wrong
 * credentials, each asked scope checked against the app's allowed ones (`simulator-scopes.ts`),
 * token revocation (`/oauth2/revoke/{applicationId}`) with two ways to see that a token is dead
 * (RFC 7662 introspection at `/oauth2/introspect`, and a protected `GET /userinfo`), injectable
 * faults (status, delay, reset, body, a huge body) and grants narrower or broader than asked.
 * Never deployed.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { readBody } from "./http-body.js";
import { SimulatedTokens } from "./simulated-tokens.js";
import { applyFault, type SimulatedFault } from "./simulator-faults.js";
import { oauthError, presentedClient, send } from "./simulator-http.js";
import type {
  IdentitySimulatorOptions,
  RecordedRequest,
  SimulatedApplication,
  SimulatedGrant,
} from "./simulator-options.js";
import { decideScopes, scopeField } from "./simulator-scopes.js";

export type { SimulatedFault } from "./simulator-faults.js";
export type {
  IdentitySimulatorOptions,
  RecordedRequest,
  SimulatedApplication,
  SimulatedClient,
  SimulatedGrant,
} from "./simulator-options.js";

/** The simulated tenant. */
export class IdentitySimulator {
  /** Every token and revocation request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Every access token granted, in order (a test checks with {@link isRevoked} what became of it). */
  readonly issued: string[] = [];
  /** Bytes handed to the socket for each `large body` fault, once its response ended. */
  readonly largeBodiesSent: number[] = [];
  readonly #options: IdentitySimulatorOptions;
  readonly #clients: Map<string, string>;
  readonly #tokens: SimulatedTokens;
  readonly #faults: SimulatedFault[] = [];
  readonly #revocationFaults: SimulatedFault[] = [];
  readonly #grants: SimulatedGrant[] = [];
  readonly #server: Server;
  #url: string | undefined;

  constructor(options: IdentitySimulatorOptions) {
    this.#options = options;
    this.#clients = new Map(
      options.clients.map((client) => [client.clientId, client.clientSecret]),
    );
    this.#tokens = new SimulatedTokens(() => this.#url, options.now ?? Date.now);
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

  /**
   * Applies `fault` to each of the next `times` revocation requests only (token requests are
   * answered normally), after any already queued.
   */
  failRevocations(fault: SimulatedFault, times = 1): void {
    for (let i = 0; i < times; i += 1) this.#revocationFaults.push(fault);
  }

  /** Grants `grant` (narrower or broader than asked) to each of the next `times` token requests. */
  grantNext(grant: SimulatedGrant, times = 1): void {
    for (let i = 0; i < times; i += 1) this.#grants.push(grant);
  }

  /** Whether `token` was revoked at this tenant. */
  isRevoked(token: string): boolean {
    return this.#tokens.isRevoked(token);
  }

  /** Forgets recorded requests, issued tokens, queued faults and grants (revoked tokens stay revoked). */
  reset(): void {
    this.requests.length = 0;
    this.issued.length = 0;
    this.largeBodiesSent.length = 0;
    this.#faults.length = 0;
    this.#revocationFaults.length = 0;
    this.#grants.length = 0;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = new URL(request.url ?? "/", "http://simulator").pathname;
    const form = new URLSearchParams(body);
    const client = presentedClient(request, form);
    // Checks of a token's state, for tests: neither recorded nor subject to faults.
    if (path === "/userinfo") return this.#userinfo(request, response);
    if (path === "/oauth2/introspect") return this.#introspect(request, form, response);

    const revocationOf = /^\/oauth2\/revoke\/([^/]+)$/.exec(path)?.[1];
    this.requests.push({
      path,
      clientAuth: client.style,
      clientId: client.clientId,
      scope: form.get("scope") ?? undefined,
      contentType: request.headers["content-type"],
      accept: request.headers.accept,
      ...(revocationOf === undefined ? {} : { token: form.get("token") ?? undefined }),
    });
    const fault =
      (revocationOf === undefined ? undefined : this.#revocationFaults.shift()) ??
      this.#faults.shift();
    if (
      fault &&
      (await applyFault(fault, request, response, (sent) => this.largeBodiesSent.push(sent)))
    ) {
      return;
    }

    if (request.method !== "POST") return oauthError(response, 404, "invalid_request");
    if (!request.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) {
      return oauthError(response, 400, "invalid_request");
    }
    if (!this.#authenticates(client)) return oauthError(response, 401, "invalid_client");
    if (revocationOf !== undefined) return this.#revoke(request, revocationOf, form, response);
    const tokenOf = /^\/oauth2\/token\/([^/]+)$/.exec(path)?.[1];
    if (path !== "/oauth2/platformtoken" && tokenOf === undefined) {
      return oauthError(response, 404, "invalid_request");
    }
    if (form.get("grant_type") !== "client_credentials") {
      return oauthError(response, 400, "unsupported_grant_type");
    }
    const application = tokenOf === undefined ? undefined : this.#application(tokenOf);
    if (tokenOf !== undefined && !application) return oauthError(response, 400, "invalid_request");
    const adjustment = this.#grants.shift() ?? application?.grant;
    const decision = decideScopes(form.get("scope") ?? undefined, application, adjustment);
    if ("error" in decision) return oauthError(response, 400, decision.error);
    const { scope } = scopeField(decision.granted);
    const latency = this.#options.tokenLatencyMs ?? 0;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    const lifetime = adjustment?.expiresIn ?? this.#options.tokenLifetimeSeconds ?? 3600;
    const accessToken = this.#tokens.issue(client.clientId ?? "", scope, lifetime);
    this.issued.push(accessToken);
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

  #authenticates(client: { clientId: string | undefined; clientSecret: string | undefined }) {
    const expected = client.clientId === undefined ? undefined : this.#clients.get(client.clientId);
    return expected !== undefined && expected === client.clientSecret;
  }

  #application(encodedId: string): SimulatedApplication | undefined {
    return this.#options.applications?.[decodeURIComponent(encodedId)];
  }

  // RFC 7009: 200 whether or not the token is known; the application must exist.
  #revoke(
    request: IncomingMessage,
    encodedApplicationId: string,
    form: URLSearchParams,
    response: ServerResponse,
  ): void {
    // RFC 7009 section 2.1: the client authenticates, as for a token request.
    if (!this.#authenticates(presentedClient(request, form))) {
      oauthError(response, 401, "invalid_client");
      return;
    }
    const token = form.get("token");
    if (this.#application(encodedApplicationId) && token) {
      this.#tokens.revoke(token);
      send(response, 200, "{}");
    } else {
      oauthError(response, 400, "invalid_request");
    }
  }

  // RFC 7662, for a client of this tenant: `{"active": false}` for revoked or unknown tokens.
  #introspect(request: IncomingMessage, form: URLSearchParams, response: ServerResponse): void {
    if (!this.#authenticates(presentedClient(request, form))) {
      oauthError(response, 401, "invalid_client");
      return;
    }
    const claims = this.#tokens.claimsOf(form.get("token") ?? "");
    // RFC 7662 section 2.2: the token's own scope, as granted.
    const scope = typeof claims?.scope === "string" ? { scope: claims.scope } : {};
    const answer = claims
      ? { active: true, sub: claims.sub, exp: claims.exp, ...scope }
      : { active: false };
    send(response, 200, JSON.stringify(answer));
  }

  // A resource protected by the tenant's tokens: what a leaked token would be used against.
  #userinfo(request: IncomingMessage, response: ServerResponse): void {
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
    const claims = bearer === undefined ? undefined : this.#tokens.claimsOf(bearer);
    if (claims) {
      send(response, 200, JSON.stringify({ sub: claims.sub }));
    } else {
      send(response, 401, JSON.stringify({ error: "invalid_token" }), {
        "WWW-Authenticate": 'Bearer error="invalid_token"',
      });
    }
  }
}
