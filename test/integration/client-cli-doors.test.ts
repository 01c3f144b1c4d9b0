/**
 * The client and the CLI against each front door the local server can stand in for: the same
 * token, the same DELETE, the same refusal, whether each request goes the REST door's way or
 * becomes a function URL event for the function URL adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runCli } from "../../functions/client/cli.js";
import { TokenVendingClient } from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import type { LocalFrontDoor } from "../../functions/local/server.js";
import {
  DEMO_ADMIN,
  type RunningLocalServer,
  startLocalServer,
} from "../../functions/local/start.js";

const STRANGER = "arn:aws:sts::999988887777:assumed-role/stranger/s";

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { ...process.env, GITHUB_ACTIONS: undefined, CYBERARK_TOKEN_URL: undefined },
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe.each<LocalFrontDoor>(["rest-api", "function-url"])("through the %s door", (door) => {
  let allowed: RunningLocalServer;
  let denied: RunningLocalServer;
  let admin: RunningLocalServer;

  beforeAll(async () => {
    [allowed, denied, admin] = await Promise.all([
      startLocalServer({ port: 0, frontDoor: door, renewEverySeconds: 0 }),
      startLocalServer({ port: 0, frontDoor: door, renewEverySeconds: 0, caller: STRANGER }),
      startLocalServer({ port: 0, frontDoor: door, renewEverySeconds: 0, caller: DEMO_ADMIN }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([allowed.close(), denied.close(), admin.close()]);
  });

  it("the client gets a token, and an admin's invalidate is answered 204", async () => {
    const token = await new TokenVendingClient({ url: allowed.url }).getToken("demo");
    const dropped = new TokenVendingClient({ url: admin.url }).invalidate("demo");

    expect(token).toMatchObject({
      token_type: "Bearer",
      profile: "demo",
      access_token: expect.stringMatching(/^ey/),
    });
    await expect(dropped).resolves.toBeUndefined();
  });

  it("the client throws access_denied for a stranger", async () => {
    const error = await new TokenVendingClient({ url: denied.url })
      .getToken("demo")
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toMatchObject({ status: 403, error: "access_denied" });
  });

  it("the CLI prints the bare token, and exits 1 naming access_denied for a stranger", async () => {
    const got = await cli(["get", "demo", "--url", allowed.url]);
    const refused = await cli(["get", "demo", "--url", denied.url]);

    expect(got).toMatchObject({ code: 0, stderr: "" });
    expect(got.stdout).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^cyberark-token: access_denied: /);
  });

  it("the CLI's delete drops the token for an admin", async () => {
    const result = await cli(["delete", "demo", "--url", admin.url]);

    expect(result).toMatchObject({ code: 0, stderr: "" });
  });
});
