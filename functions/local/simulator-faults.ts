/**
 * The faults the CyberArk Identity simulator can inject in place of a normal answer: a status, a
 * delay, a reset connection, an unusable or a huge body, an answer held until a test releases it.
 * Never deployed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { send, streamLargeBody } from "./simulator-http.js";

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
  | { readonly kind: "body"; readonly contentType: string; readonly body: string }
  /** A `200` whose body of `bytes` bytes is streamed as the client reads it, never allocated. */
  | { readonly kind: "large body"; readonly bytes: number }
  /**
   * Holds the request until `release` settles (a test's gate), then answers normally, or as
   * `after` says. `onHold` learns that the request is held: a test waits for it instead of a timer.
   */
  | {
      readonly kind: "hold";
      readonly release: Promise<unknown>;
      readonly onHold?: () => void;
      readonly after?: SimulatedFault;
    };

/**
 * Answers with `fault` instead of the normal answer; `false` when the normal answer should
 * follow (a delay). `onLargeBody` learns how many bytes of a huge body were sent.
 */
export async function applyFault(
  fault: SimulatedFault,
  request: IncomingMessage,
  response: ServerResponse,
  onLargeBody: (sent: number) => void,
): Promise<boolean> {
  switch (fault.kind) {
    case "reset":
      request.socket.destroy();
      return true;
    case "delay":
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      return false;
    case "hold":
      fault.onHold?.();
      await fault.release.catch(() => undefined);
      return fault.after ? applyFault(fault.after, request, response, onLargeBody) : false;
    case "status": {
      const headers = fault.retryAfter ? { "Retry-After": fault.retryAfter } : {};
      const body = fault.body ?? JSON.stringify({ error: "server_error" });
      send(response, fault.status, body, headers);
      return true;
    }
    case "body":
      response.writeHead(200, { "Content-Type": fault.contentType });
      response.end(fault.body);
      return true;
    case "large body":
      streamLargeBody(response, fault.bytes, onLargeBody);
      return true;
  }
}
