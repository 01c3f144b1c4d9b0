/**
 * Reading a request body, for the local servers.
 */
import type { IncomingMessage } from "node:http";

/**
 * The request body as UTF-8 text, its first `maxBytes` at most: the rest is received and
 * dropped, so a huge body costs time, never memory.
 */
export function readBody(
  request: IncomingMessage,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    request.on("data", (chunk: Buffer) => {
      if (kept >= maxBytes) return;
      const part = chunk.subarray(0, maxBytes - kept);
      chunks.push(part);
      kept += part.length;
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}
