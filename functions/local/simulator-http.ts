/**
 * HTTP helpers of the CyberArk Identity simulator: reading client authentication as a tenant
 * does, OAuth2 error answers, and a lazily streamed huge body. Never deployed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** How a request authenticated its client, and as whom. */
export interface PresentedClient {
  readonly style: "body" | "basic" | "none";
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
}

/** The client credentials of a request: HTTP Basic (RFC 6749 2.3.1), else the form body. */
export function presentedClient(request: IncomingMessage, form: URLSearchParams): PresentedClient {
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

/** A JSON answer. */
export function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
  response.end(body);
}

/** An OAuth2 error answer. */
export function oauthError(response: ServerResponse, status: number, error: string): void {
  send(response, status, JSON.stringify({ error, error_description: `simulated ${error}` }));
}

const CHUNK = Buffer.alloc(64 * 1024, 0x20);

/**
 * Answers 200 with a JSON-typed body of `bytes` spaces, produced only as fast as the client reads
 * (nothing is allocated up front). Reports how many bytes went to the socket when it ends or the
 * client hangs up.
 */
export function streamLargeBody(
  response: ServerResponse,
  bytes: number,
  onEnd: (sent: number) => void,
): void {
  let sent = 0;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd(sent);
  };
  response.on("close", end);
  response.writeHead(200, { "Content-Type": "application/json" });
  const pump = () => {
    while (sent < bytes && !response.destroyed) {
      const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, bytes - sent));
      sent += chunk.length;
      if (!response.write(chunk)) return void response.once("drain", pump);
    }
    if (sent >= bytes) response.end();
  };
  pump();
}
