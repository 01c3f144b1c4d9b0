/**
 * The local server stands in for either front door: with `frontDoor: "function-url"` every request
 * becomes a payload 2.0 event and goes through the function URL adapter the deployed function uses,
 * with the same answers as the REST door.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEMO_ADMIN,
  type RunningLocalServer,
  startLocalServer,
} from "../../functions/local/start.js";

describe.each(["rest-api", "function-url"] as const)("the local server as the %s door", (door) => {
  let server: RunningLocalServer;

  beforeAll(async () => {
    server = await startLocalServer({ port: 0, frontDoor: door, renewEverySeconds: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  const send = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${server.url}${path}`, init);
    return { status: response.status, headers: response.headers, text: await response.text() };
  };

  it("vends a token, then drops it for the demo admin, and vends a new one", async () => {
    const first = await send("/tokens/demo?min_validity=60");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const token = JSON.parse(first.text).access_token;

    const deleted = await send("/tokens/demo", {
      method: "DELETE",
      headers: { "x-caller-arn": DEMO_ADMIN },
    });
    expect([deleted.status, deleted.text]).toEqual([204, ""]);
    expect(JSON.parse((await send("/tokens/demo")).text).access_token).not.toBe(token);
  });

  it.each([
    ["an unknown path", "/elsewhere", {}, 404],
    ["a POST", "/tokens/demo", { method: "POST" }, 405],
    ["a body", "/tokens/demo", { method: "DELETE", body: "{}" }, 400],
    [
      "a stranger",
      "/tokens/demo",
      { headers: { "x-caller-arn": "arn:aws:iam::999999999999:role/x" } },
      403,
    ],
  ] as const)("answers %s with %i and the contract's JSON", async (_, path, init, status) => {
    const answer = await send(path, init as RequestInit);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.text)).toEqual({
      error: status === 403 ? "access_denied" : "invalid_request",
      error_description: expect.any(String),
      request_id: expect.any(String),
    });
  });
});
