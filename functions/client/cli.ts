/**
 * The `cyberark-token` command for CI runners and operators. `runCli` holds the logic and returns
 * the exit code, so tests run it in-process; `bin.ts` is the executable.
 */
import { isB64Token, NOT_A_B64TOKEN } from "../common/b64token.js";
import { InvalidApiUrlError } from "./api-url.js";
import { type Command, parseCommand, USAGE, USAGE_HINT, UsageError } from "./cli-args.js";
import { TokenVendingClient, type TokenVendingClientOptions } from "./client.js";
import { failureLine, TokenVendingError } from "./errors.js";
import { escapeData, inertJson } from "./workflow-command.js";

export { USAGE };

/** Where the command reads and writes; `process` in real use. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Builds the client; tests inject fakes through it. */
  readonly newClient?: (
    options: TokenVendingClientOptions,
  ) => Pick<TokenVendingClient, "getToken" | "invalidate">;
}

/** Runs the command; resolves to its exit code: 0 done, 1 denied or failed, 2 bad usage. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return badUsage(io, error.message);
  }
  if (command.command === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }

  try {
    const client = (io.newClient ?? ((options) => new TokenVendingClient(options)))({
      url: command.url,
      ...(command.region ? { region: command.region } : {}),
      timeoutMs: command.timeoutMs,
    });
    if (command.command === "delete") {
      await client.invalidate(command.profile);
      return 0;
    }
    const token = await client.getToken(command.profile, {
      minValidity: command.minValidity,
      ...(command.scope === undefined ? {} : { scope: command.scope }),
    });
    // Checked here too, whatever client answered: a token outside the b64token alphabet could
    // slip lines past the mask, into the log as workflow commands, into $GITHUB_ENV, or run as
    // shell syntax in `eval "$(cyberark-token get p --format env)"`. Nothing is written then.
    if (!isB64Token(token.access_token)) {
      io.stderr(
        `cyberark-token: invalid_token: the service returned an unusable token: ${NOT_A_B64TOKEN}\n`,
      );
      return 1;
    }
    // Mask before anything prints the token, so it never appears in a GitHub Actions log. On
    // stderr, which the runner reads for workflow commands too: stdout must hold only the output,
    // or `>> "$GITHUB_ENV"` would put the mask line in the env file (where the runner rejects it
    // and prints it, token included) and `$(...)` would capture two lines. A b64token needs no
    // escaping in a workflow command.
    if (io.env.GITHUB_ACTIONS === "true") io.stderr(`::add-mask::${token.access_token}\n`);
    const output = {
      token: token.access_token,
      // The same JSON value, with no `##[` or separator the runner or a terminal would act on.
      json: inertJson(token),
      env: `CYBERARK_TOKEN=${token.access_token}`,
    }[command.format];
    io.stdout(`${output}\n`);
    return 0;
  } catch (error) {
    // What the client refuses before any request (a region it cannot tell) is bad usage too.
    if (error instanceof InvalidApiUrlError) return badUsage(io, error.message);
    if (error instanceof TokenVendingError && error.code === "invalid_option") {
      return badUsage(io, failureLine(error));
    }
    // The runner reads workflow commands from stderr too: the server's text (description,
    // request id, even its error code) is escaped, so it never begins a line of its own.
    io.stderr(`cyberark-token: ${escapeData(failureLine(error))}\n`);
    return 1;
  }
}

/** Writes one escaped line and the usage hint; resolves to exit code 2. */
function badUsage(io: CliIo, message: string): number {
  io.stderr(`cyberark-token: ${escapeData(message)}\n${USAGE_HINT}\n`);
  return 2;
}
