/**
 * The local server's HTTP side: each request becomes the API Gateway REST proxy event the deployed
 * function receives, and goes to the very same handler. No vending rule lives here; what this
 * server answers itself is what API Gateway would answer (an unknown path) and what only a server
 * on a developer's machine needs (refusing requests a web page could make).
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { LOCAL_SECRET_HEADER, type LocalSecret } from "../common/local-secret.js";
import { readBody } from "./http-body.js";
import { refusalReason } from "./loopback-guard.js";
import { decodePathParameter, localContext, toRestEvent } from "./rest-event.js";

/** The deployed handler's shape. */
export type RestHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

/** The log methods the server uses. Powertools' Logger fits. */
export interface LocalServerLogger {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** Options of {@link createLocalServer}. */
export interface LocalServerOptions {
  readonly handler: RestHandler;
  /** The caller ARN when a request has no `x-caller-arn` header. */
  readonly defaultCaller: string;
  /** Receives refused requests and failures, never a header value or a body. */
  readonly logger: LocalServerLogger;
  /**
   * With real tokens (`--profiles`): only requests carrying this per-start secret are served, so
   * no other user or container on the host can get a token or claim a caller (`x-caller-arn`).
   * @default none: the embedded demo answers any local process
   */
  readonly secret?: Pick<LocalSecret, "matches">;
}

/** One HTTP request as the server received it, body read. */
export interface LocalRequest {
  readonly method: string;
  /** The request target as sent, e.g. `/tokens/demo?min_validity=60`. */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The port the request arrived on: the only one its `Host` may name. */
  readonly localPort: number;
  /** @default "127.0.0.1" */
  readonly remoteAddress?: string;
  /** @default "1.1" */
  readonly httpVersion?: string;
}

/** Answers one request; what {@link createLocalServer} runs, callable without a socket. */
export type LocalRequestHandling = (request: LocalRequest) => Promise<APIGatewayProxyResult>;

const TOKENS_PATH = /^\/tokens\/([^/]*)$/;
// Errors must not be stored by a browser or a proxy either.
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

/** An HTTP server that feeds `/tokens/{profile}` requests to the handler. */
export function createLocalServer(options: LocalServerOptions): Server {
  const handle = createRequestHandling(options);
  // Without requireHostHeader Node would answer a Host-less request itself, outside the contract.
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    fromIncoming(request)
      .then(handle)
      .then(
        (result) => send(response, result),
        () => send(response, unexpectedFailure(options.logger)),
      );
  });
  // What Node refuses before any handler runs (a malformed request line or header, headers too
  // large) still gets the contract's JSON, with a request ID.
  server.on("clientError", (_error, socket) => {
    if (!socket.writable) return;
    const body = JSON.stringify({
      error: "invalid_request",
      error_description: "The request is not valid HTTP.",
      request_id: randomUUID(),
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nPragma: no-cache\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return server;
}

/**
 * The server's request handling. A request not addressed to this server's loopback address and
 * port, or sent by a web page, is refused before anything else; then unknown paths get `404`;
 * everything else goes to the handler.
 */
export function createRequestHandling(options: LocalServerOptions): LocalRequestHandling {
  return async (request) => {
    const refusal = refusalReason(request) ?? secretRefusal(options, request);
    if (refusal) {
      const requestId = randomUUID();
      // The reason only: Host and Origin are chosen by whoever sent the request.
      options.logger.warn("request refused", { requestId, reason: refusal });
      return errorAnswer(
        403,
        "access_denied",
        refusal === "local_secret_missing"
          ? `The local server answers only requests carrying its per-start secret (header ${LOCAL_SECRET_HEADER}; the CLI sends it, see the ready message).`
          : "The local server answers only requests addressed to its own loopback address and port, and none from a web page.",
        requestId,
      );
    }
    const url = targetUrl(request.target);
    const match = url && TOKENS_PATH.exec(url.pathname);
    if (!url || !match) {
      // API Gateway answers unknown paths before any function runs; so does this server.
      return errorAnswer(404, "invalid_request", "Only /tokens/{profile} exists.", randomUUID());
    }
    // The secret stops here: the handler (and anything it might log) never sees it.
    const { [LOCAL_SECRET_HEADER]: _secret, ...headers } = request.headers;
    const event = toRestEvent(
      { ...request, headers },
      url,
      decodePathParameter(match[1] ?? ""),
      options.defaultCaller,
    );
    try {
      return await options.handler(event, localContext(event.requestContext.requestId));
    } catch {
      return unexpectedFailure(options.logger);
    }
  };
}

// In --profiles mode, the secret or nothing: a header Node joined from several lines is refused.
function secretRefusal(options: LocalServerOptions, request: LocalRequest): string | undefined {
  if (!options.secret) return undefined;
  const value = request.headers[LOCAL_SECRET_HEADER];
  return typeof value === "string" && options.secret.matches(value)
    ? undefined
    : "local_secret_missing";
}

// Only origin-form targets ("/path?query") name a path of this server; anything else
// ("*", "http://elsewhere/...", "//elsewhere/...") does not.
function targetUrl(target: string): URL | undefined {
  if (!target.startsWith("/") || target.startsWith("//")) return undefined;
  return URL.parse(`http://local${target}`) ?? undefined;
}

// The API takes no body, so one is only ever read far enough to be refused: a refused request's
// body is not read at all, and any other is kept to its first MAX_BODY_BYTES.
const MAX_BODY_BYTES = 16 * 1024;

async function fromIncoming(request: IncomingMessage): Promise<LocalRequest> {
  const head = {
    method: request.method ?? "GET",
    target: request.url ?? "/",
    headers: request.headers,
    body: "",
    localPort: request.socket.localPort ?? 0,
    ...(request.socket.remoteAddress ? { remoteAddress: request.socket.remoteAddress } : {}),
    httpVersion: request.httpVersion,
  };
  if (refusalReason(head)) return head;
  return { ...head, body: await readBody(request, MAX_BODY_BYTES) };
}

/** The contract's error JSON. */
function errorAnswer(
  statusCode: number,
  error: string,
  description: string,
  requestId: string,
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "Content-Type": "application/json", ...NO_STORE },
    body: JSON.stringify({ error, error_description: description, request_id: requestId }),
  };
}

// The handler turns every error into the contract's JSON; this is the net under that net.
function unexpectedFailure(logger: LocalServerLogger): APIGatewayProxyResult {
  const requestId = randomUUID();
  logger.error("the local server failed", { requestId });
  return errorAnswer(500, "server_error", "The local server failed.", requestId);
}

function send(response: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  // A request whose body was not read (refused, or too large) does not keep its connection.
  if (!response.req.complete) headers.Connection = "close";
  headers["Content-Length"] = String(Buffer.byteLength(result.body ?? ""));
  response.writeHead(result.statusCode, headers);
  response.end(result.body);
}

/**
 * Listens on 127.0.0.1 and returns the bound port.
 * @throws {Error} with a one-line message when the port is taken or not allowed.
 */
export function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === "EADDRINUSE"
          ? `port ${port} on ${host} is already in use (choose another with --port or PORT)`
          : `cannot listen on ${host}:${port} (${error.code ?? error.message})`;
      reject(new Error(reason));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
