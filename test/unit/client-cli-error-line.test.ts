/**
 * A failure is one line on stderr naming the error code, whatever the server's text holds. The
 * GitHub runner reads workflow commands (`::error::`, `::add-mask::`) from every line of a step's
 * stderr, so a line break in an `error_description` or a `request_id` must never start a line of
 * its own: CR, LF and `%` are escaped as the runner's own convention escapes a command's data
 * (`%0D`, `%0A`, `%25`), the same way in the CLI and in the Action.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../../functions/client/cli.js";
import { TokenVendingClient } from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import { runAction } from "../../functions/client/github-action.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

/** Server texts that would be lines of their own, some of them workflow commands. */
const HOSTILE_TEXTS = [
  [
    "LF and an annotation",
    "denied\n::error title=X::the build is compromised",
    "denied%0A::error title=X::the build is compromised",
  ],
  ["CRLF and a mask", "denied\r\n::add-mask::nothing", "denied%0D%0A::add-mask::nothing"],
  ["a bare CR", "denied\r::warning::overwritten", "denied%0D::warning::overwritten"],
  ["percent signs that look escaped", "100%0A done %25", "100%250A done %2525"],
  ["several breaks", "a\n\nb\r\n\r\nc\n", "a%0A%0Ab%0D%0A%0D%0Ac%0A"],
] as const;

/** A real client whose every request is answered with `status` and `body`. */
function answering(status: number, body: unknown) {
  return () =>
    new TokenVendingClient({
      url: API,
      credentials,
      fetch: async () =>
        new Response(JSON.stringify(body), {
          status,
          headers: { "content-type": "application/json" },
        }),
    });
}

async function cli(args: string[], newClient: ReturnType<typeof answering>) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { GITHUB_ACTIONS: "true" },
    newClient,
  });
  return { code, stdout, stderr };
}

/** Every line a reader of `text` sees, split as the runner splits a stream (CR, LF or CRLF). */
function linesOf(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

describe("the CLI's error line", () => {
  it.each(HOSTILE_TEXTS)(
    "stays one line naming the error code when the error_description holds %s",
    async (_, text, escaped) => {
      const result = await cli(
        ["get", "ci", "--url", API],
        answering(403, { error: "access_denied", error_description: text, request_id: "r-1" }),
      );

      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(linesOf(result.stderr)).toEqual([
        `cyberark-token: access_denied: ${escaped} (request_id r-1)`,
        "",
      ]);
    },
  );

  it.each(HOSTILE_TEXTS)(
    "stays one line naming the error code when the request_id holds %s, for a delete too",
    async (_, text, escaped) => {
      const result = await cli(
        ["delete", "ci", "--url", API],
        answering(403, { error: "access_denied", error_description: "no", request_id: text }),
      );

      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toEqual([
        `cyberark-token: access_denied: no (request_id ${escaped})`,
        "",
      ]);
    },
  );

  it.each([
    ["holds a line break", "bad\n::add-mask::x"],
    ["is empty", ""],
    ["holds spaces", "not a code"],
  ])("names the stable code, http_error, when the server's error %s", async (_, error) => {
    const result = await cli(
      ["get", "ci", "--url", API],
      answering(400, { error, error_description: "d" }),
    );

    expect(result.code).toBe(1);
    expect(linesOf(result.stderr)).toEqual(["cyberark-token: http_error: d", ""]);
  });
});

describe("the CLI's usage error", () => {
  it("quotes an argument holding a line break on the same line, then the usage hint, exit 2", async () => {
    const result = await cli(["get\n::error::x", "ci", "--url", API], answering(200, {}));

    expect(result.code).toBe(2);
    expect(linesOf(result.stderr)).toEqual([
      'cyberark-token: unknown command "get%0A::error::x"',
      "Usage: cyberark-token get|delete <profile> --url URL [options]; see cyberark-token --help",
      "",
    ]);
  });
});

describe("the CLI and the Action", () => {
  // Never written: the request fails before the action writes any output.
  const outputFile = "/nonexistent/never-written";

  it.each(HOSTILE_TEXTS)(
    "write the same escaped text for a server's text holding %s",
    async (_, text) => {
      const body = { error: "access_denied", error_description: text, request_id: text };
      const cliRun = await cli(["get", "ci", "--url", API], answering(403, body));
      let actionOut = "";
      const actionCode = await runAction({
        env: {
          INPUT_PROFILE: "ci",
          INPUT_URL: API,
          GITHUB_OUTPUT: outputFile,
          GITHUB_ENV: outputFile,
        },
        stdout: (line) => {
          actionOut += line;
        },
        newClient: answering(403, body),
      });

      expect(actionCode).toBe(1);
      expect(linesOf(actionOut)).toEqual([`::error::${cliRun.stderr.trimEnd()}`, ""]);
    },
  );
});

describe("TokenVendingError's own text", () => {
  it("keeps the server's text as sent, for a program to read", () => {
    const error = new TokenVendingError({ code: "access_denied", description: "a\nb" });
    expect(error.description).toBe("a\nb");
  });
});
