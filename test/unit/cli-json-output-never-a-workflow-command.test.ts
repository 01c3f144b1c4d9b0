/**
 * `--format json` prints the service's `200` body on stdout, which a step often leaves to the job
 * log. The runner runs a `##[name]data` command found anywhere in a line it reads, so a string in
 * that body holding `##[` (a `scope` is an RFC 6749 scope-token, whose alphabet has `#` and `[`,
 * or any field a server adds) must not reach stdout as such; nor may a line or paragraph
 * separator or a C1 control. JSON can say each of them as a `\u` escape: the output is the same
 * JSON value, on one line, with none of them in its text.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../../functions/client/cli.js";
import { TokenVendingClient } from "../../functions/client/client.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

const BODY = {
  access_token: "t1",
  token_type: "Bearer",
  expires_in: 3600,
  expires_at: "2026-11-21T13:00:00Z",
  scope: "read ##[stop-commands]x",
  profile: "ci",
  note: "a\u2028b\u2029c\u0085d ##[set-output name=token]forged ###[error]x",
};

describe("cyberark-token get --format json", () => {
  it("prints the body as the same JSON value, on one line holding no ##[, no separator, no C1 control", async () => {
    let stdout = "";
    const code = await runCli(["get", "ci", "--url", API, "--format", "json"], {
      stdout: (text) => {
        stdout += text;
      },
      stderr: () => {},
      env: { GITHUB_ACTIONS: "true" },
      newClient: () =>
        new TokenVendingClient({
          url: API,
          credentials,
          fetch: async () =>
            new Response(JSON.stringify(BODY), {
              status: 200,
              headers: { "content-type": "application/json" },
            }),
        }),
    });

    expect(code).toBe(0);
    expect(stdout.endsWith("\n")).toBe(true);
    const line = stdout.slice(0, -1);
    expect(line).not.toContain("##[");
    expect(line).not.toMatch(/[\p{Cc}\p{Zl}\p{Zp}]/u);
    // expires_in is counted again from the client's clock; everything else is as sent.
    expect(JSON.parse(line)).toEqual({ ...BODY, expires_in: expect.any(Number) });
  });
});
