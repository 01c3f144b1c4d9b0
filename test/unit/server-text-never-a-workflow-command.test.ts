/**
 * Nothing a server says becomes a workflow command or more than one line. The GitHub runner reads
 * workflow commands from a step's stdout and stderr in two forms: `::name::data` at the start of
 * a line, and the older `##[name]data` ANYWHERE in a line (`##[stop-commands]`, `##[add-mask]`,
 * `##[set-output name=x]`, `##[error]`). The CLI's error line begins with `cyberark-token: `, so
 * only the second form can hide in it. A terminal, for its part, breaks lines or runs escape
 * sequences on control characters other than CR and LF (ESC, VT, FF, NEL U+0085, U+2028,
 * U+2029). The CLI and the Action escape all of them, the same way.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../../functions/client/cli.js";
import { TokenVendingClient } from "../../functions/client/client.js";
import { runAction } from "../../functions/client/github-action.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

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

async function cliStderr(body: unknown): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const code = await runCli(["get", "ci", "--url", API], {
    stdout: () => {},
    stderr: (text) => {
      stderr += text;
    },
    env: { GITHUB_ACTIONS: "true" },
    newClient: answering(400, body),
  });
  return { code, stderr };
}

/** Where the runner finds a command of the `##[name]` form in a line, as its parser does. */
function legacyCommandAt(line: string): number {
  return line.indexOf("##[");
}

const LEGACY_COMMANDS = [
  ["stop-commands, which would silence every later ::add-mask:: of the step", "##[stop-commands]x"],
  ["add-mask", "##[add-mask]anything"],
  ["set-output", "##[set-output name=token]forged"],
  ["error", "x ###[error]forged annotation"],
];

describe("a server's text holding a ##[command]", () => {
  it.each(LEGACY_COMMANDS)(
    "is never a workflow command on the CLI's stderr: %s",
    async (_, text) => {
      for (const body of [
        { error: "invalid_request", error_description: text, request_id: "r-1" },
        { error: "invalid_request", error_description: "d", request_id: text },
      ]) {
        const { code, stderr } = await cliStderr(body);

        expect(code).toBe(1);
        expect(stderr.startsWith("cyberark-token: invalid_request: ")).toBe(true);
        expect(legacyCommandAt(stderr)).toBe(-1);
      }
    },
  );
});

const TERMINAL_CONTROLS = [
  ["ESC (an ANSI sequence)", "\u001b[2K\u001b[1A::error::faked"],
  ["an OSC sequence ended by BEL", "\u001b]0;title\u0007"],
  ["VT and FF", "a\u000bb\u000cc"],
  ["NEL U+0085", "a\u0085b"],
  ["U+2028 and U+2029", "a\u2028b\u2029c"],
  ["NUL and DEL", "a\u0000b\u007fc"],
  ["a C1 CSI U+009B", "a\u009b2Kb"],
];

describe("a server's text holding control characters", () => {
  it.each(TERMINAL_CONTROLS)(
    "reaches the CLI's stderr as one line with no control character: %s",
    async (_, text) => {
      const { code, stderr } = await cliStderr({
        error: "invalid_request",
        error_description: text,
        request_id: text,
      });

      expect(code).toBe(1);
      const line = stderr.slice(0, -1);
      expect(stderr.endsWith("\n")).toBe(true);
      expect(line).not.toMatch(/[\p{Cc}\p{Zl}\p{Zp}]/u);
    },
  );

  it.each([...LEGACY_COMMANDS, ...TERMINAL_CONTROLS])(
    "is escaped the same way by the Action's ::error:: line: %s",
    async (_, text) => {
      const body = { error: "invalid_request", error_description: text, request_id: text };
      const { stderr } = await cliStderr(body);
      let out = "";
      const code = await runAction({
        env: {
          INPUT_PROFILE: "ci",
          INPUT_URL: API,
          GITHUB_OUTPUT: "/nonexistent/never-written",
          GITHUB_ENV: "/nonexistent/never-written",
        },
        stdout: (line) => {
          out += line;
        },
        newClient: answering(400, body),
      });

      expect(code).toBe(1);
      expect(out).toBe(`::error::${stderr}`);
    },
  );
});
