/**
 * The local server's HTTP side: each request goes to the very request handling the deployed
 * function runs, through the door it names. No vending rule lives here; what this server answers
 * itself is only what a server on a developer's machine needs (refusing requests a web page, or
 * with `--profiles` another user, could make).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Context } from "aws-lambda";
import { LOCAL_SECRET_HEADER, type LocalSecret } from "../common/local-secret.js";
import { VendingError } from "../core/errors.js";
import { errorAnswer, type VendAnswer } from "../vend/answers.js";
import { functionUrlRequest } from "../vend/function-url-door.js";
import { ownFunctionUrl } from "../vend/own-function-url.js";
import { DoorRefusalError, InvalidRequestError } from "../vend/request-errors.js";
import type { Vending } from "../vend/vending.js";
import { LOCAL_FUNCTION_URL, toFunctionUrlEvent } from "./function-url-event.js";
import { readBody } from "./http-body.js";
import {
  callerOf,
  type LocalRequest,
  localDoorRequest,
  type TargetParts,
  targetParts,
} from "./local-request.js";
import { refusalReason } from "./loopback-guard.js";

export type { LocalRequest } from "./local-request.js";

/** The log methods the server uses. Powertools' Logger fits. */
export interface LocalServerLogger {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** The doors the local server can stand in for. */
export type LocalFrontDoor = "rest-api" | "function-url";

/** Options of {@link createLocalServer}. */
export interface LocalServerOptions {
  /** The request handling the deployed function runs. */
  readonly vending: Vending;
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
  /**
   * Whose events to serve: the REST API door's routing (the server's own, straight to the request
   * handling), or a function URL's (each request made a payload 2.0 event for the function URL
   * adapter). @default "rest-api"
   */
  readonly frontDoor?: LocalFrontDoor;
}

/** Answers one request; what {@link createLocalServer} runs, callable without a socket. */
export type LocalRequestHandling = (request: LocalRequest) => Promise<VendAnswer>;

/** An HTTP server that feeds `/tokens/{profile}` requests to the request handling. */
export function createLocalServer(options: LocalServerOptions): Server {
  const handle = createRequestHandling(options);
  // Without requireHostHeader Node would answer a Host-less request itself, outside the contract.
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    const head = headOf(request);
    // A request without a body (every GET a client sends) is handled at once; one with a body
    // waits for it, unless it is refused anyway.
    const answer =
      hasBody(request) && !refusalReason(head)
        ? readBody(request, MAX_BODY_BYTES).then((body) => handle({ ...head, body }))
        : handle(head);
    answer.then(
      (result) => send(response, result),
      () => send(response, unexpectedFailure(options.logger)),
    );
  });
  // What Node refuses before any handler runs (a malformed request line or header, headers too
  // large) still gets the contract's JSON, with a request ID.
  server.on("clientError", (_error, socket) => {
    if (!socket.writable) return;
    const answer = errorAnswer(
      new InvalidRequestError("The request is not valid HTTP."),
      randomUUID(),
    );
    const head = Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.end(
      `HTTP/1.1 ${answer.statusCode} Bad Request\r\n${head.join("")}Connection: close\r\nContent-Length: ${Buffer.byteLength(answer.body)}\r\n\r\n${answer.body}`,
    );
  });
  return server;
}

/**
 * The server's request handling. A request not addressed to this server's loopback address and
 * port, or sent by a web page (or, with `--profiles`, without the per-start secret), is refused
 * before anything else; everything else goes to the request handling, which answers unknown
 * paths `404` as a function URL's door does.
 */
export function createRequestHandling(options: LocalServerOptions): LocalRequestHandling {
  const { vending, defaultCaller } = options;
  const door = options.frontDoor === "function-url" ? viaFunctionUrl(options.logger) : undefined;
  const failed = () => unexpectedFailure(options.logger);
  // Not an async function: a warm hit's answer is the vending's own promise, without further hops.
  return (request) => {
    const refusal = refusalReason(request) ?? secretRefusal(options, request);
    if (refusal) return Promise.resolve(refused(options.logger, refusal));
    try {
      const parts = targetParts(request.target);
      const answer =
        door && parts
          ? door(request, parts, defaultCaller).then(vending)
          : vending(localDoorRequest(request, parts, defaultCaller));
      return answer.catch(failed);
    } catch {
      return Promise.resolve(failed());
    }
  };
}

// The function URL adapter, over the event Lambda would send for this request, with the URL
// configuration the deployed function looks up handed in fixed through the same port.
function viaFunctionUrl(logger: LocalServerLogger) {
  const ownUrl = ownFunctionUrl(() => Promise.resolve(LOCAL_FUNCTION_URL), logger);
  return async (request: LocalRequest, parts: TargetParts, defaultCaller: string) => {
    const event = toFunctionUrlEvent(request, parts, callerOf(request, defaultCaller));
    return functionUrlRequest(event, LAMBDA_CONTEXT, await ownUrl());
  };
}

// The adapters read a Lambda context only for a request ID when the event has none.
const LAMBDA_CONTEXT = { awsRequestId: "local" } as Context;

function refused(logger: LocalServerLogger, reason: string): VendAnswer {
  const requestId = randomUUID();
  // The reason only: Host and Origin are chosen by whoever sent the request.
  logger.warn("request refused", { requestId, reason });
  const description =
    reason === "local_secret_missing"
      ? `The local server answers only requests carrying its per-start secret (header ${LOCAL_SECRET_HEADER}; the CLI sends it, see the ready message).`
      : "The local server answers only requests addressed to its own loopback address and port, and none from a web page.";
  return errorAnswer(new DoorRefusalError(description, reason), requestId);
}

// In --profiles mode, the secret or nothing: a header Node joined from several lines is refused.
function secretRefusal(options: LocalServerOptions, request: LocalRequest): string | undefined {
  if (!options.secret) return undefined;
  const value = request.headers[LOCAL_SECRET_HEADER];
  return typeof value === "string" && options.secret.matches(value)
    ? undefined
    : "local_secret_missing";
}

// The API takes no body, so one is only ever read far enough to be refused: a refused request's
// body is not read at all, and any other is kept to its first MAX_BODY_BYTES.
const MAX_BODY_BYTES = 16 * 1024;

// The request as received, its body not read yet.
function headOf(request: IncomingMessage): LocalRequest {
  const { socket } = request;
  return {
    method: request.method ?? "GET",
    target: request.url ?? "/",
    headers: request.headers,
    body: "",
    localPort: socket.localPort ?? 0,
    remoteAddress: socket.remoteAddress,
    httpVersion: request.httpVersion,
  };
}

// HTTP/1.1 frames a request body only with Content-Length or Transfer-Encoding; without either
// (every GET a client sends) there is none to wait for, and Node's parser reads none.
function hasBody(request: IncomingMessage): boolean {
  const { headers } = request;
  return headers["transfer-encoding"] !== undefined || headers["content-length"] !== undefined;
}

/** The request handling turns every error into the contract's JSON; this is the net under it. */
class LocalFailureError extends VendingError {
  readonly code = "server_error";
  constructor() {
    super("The local server failed.");
  }
}

function unexpectedFailure(logger: LocalServerLogger): VendAnswer {
  const requestId = randomUUID();
  logger.error("the local server failed", { requestId });
  return errorAnswer(new LocalFailureError(), requestId);
}

function send(response: ServerResponse, answer: VendAnswer): void {
  // A request whose body was not read (refused, or too large) does not keep its connection.
  const headers = response.req.complete
    ? headersOf(answer)
    : { ...headersOf(answer), Connection: "close" };
  response.writeHead(answer.statusCode, headers);
  response.end(answer.body);
}

// An answer's headers with its Content-Length, made once per answer: a warm hit's answer is the
// same object for many requests (see tokenAnswer).
const sentHeaders = new WeakMap<VendAnswer, Readonly<Record<string, string>>>();
function headersOf(answer: VendAnswer): Readonly<Record<string, string>> {
  let headers = sentHeaders.get(answer);
  if (!headers) {
    headers = { ...answer.headers, "Content-Length": String(Buffer.byteLength(answer.body)) };
    sentHeaders.set(answer, headers);
  }
  return headers;
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
