/**
 * A stand-in for the token-vending API over real HTTP on 127.0.0.1 that answers from a script:
 * stalls (accepts and never answers), connection resets, any status with a `Retry-After`, then
 * tokens. Records every request. For the client's timeouts, retries and cache.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One scripted answer. */
export type Behaviour =
  | { readonly kind: "stall" }
  | { readonly kind: "reset" }
  | {
      readonly kind: "status";
      readonly status: number;
      readonly retryAfter?: string;
      readonly body?: unknown;
    }
  | { readonly kind: "token"; readonly token?: string; readonly expiresIn?: number };

/** A request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

/** The running server. */
export interface FlakyApi {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Answers the next requests with these, in order; then tokens. */
  script(...behaviours: Behaviour[]): void;
  reset(): void;
  close(): Promise<void>;
}

/** Starts a {@link FlakyApi} on a free port. */
export async function startFlakyApi(): Promise<FlakyApi> {
  const requests: SeenRequest[] = [];
  const queue: Behaviour[] = [];
  const sockets = new Set<Socket>();
  let issued = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push({
      method: request.method ?? "",
      url: request.url ?? "",
      authorization: request.headers.authorization,
    });
    const behaviour: Behaviour = queue.shift() ?? { kind: "token" };
    switch (behaviour.kind) {
      case "stall":
        return;
      case "reset":
        request.socket.resetAndDestroy();
        return;
      case "status": {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (behaviour.retryAfter !== undefined) headers["retry-after"] = behaviour.retryAfter;
        response.writeHead(behaviour.status, headers);
        response.end(behaviour.body === undefined ? "" : JSON.stringify(behaviour.body));
        return;
      }
      case "token": {
        if (request.method === "DELETE") {
          response.writeHead(204).end();
          return;
        }
        issued += 1;
        const expiresIn = behaviour.expiresIn ?? 3600;
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            access_token: behaviour.token ?? `token-${issued}`,
            token_type: "Bearer",
            expires_in: expiresIn,
            expires_at: new Date(Date.now() + expiresIn * 1000).toISOString().replace(/\.\d+/, ""),
            profile: /\/tokens\/([^?]+)/.exec(request.url ?? "")?.[1] ?? "",
          }),
        );
      }
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/`,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      issued = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
