/**
 * The `cyberark-token` command for CI runners. `runCli` holds the logic
 * and returns the exit code, so tests run it in-process; `bin.ts` is the executable.
 */
import { parseArgs } from "node:util";
import { parseApiUrl } from "./api-url.js";
import { TokenVendingClient, type TokenVendingClientOptions, TokenVendingError } from "./client.js";

/** Usage text of the command. */
export const USAGE = `Usage: cyberark-token get <profile> [--url URL] [--min-validity N] [--format token|json|env]

Prints a CyberArk Identity access token from the token-vending API. The request is signed
(SigV4) with the AWS credentials of the environment, e.g. the IAM role of a CI job.

Options:
  --url URL           the API's base URL, the stack output ApiUrl (default: $CYBERARK_TOKEN_URL);
                      https://, or http:// only for 127.0.0.1, localhost and [::1]
  --min-validity N    seconds the token must stay valid, 0 to 3600 (default: 300)
  --format FORMAT     token  the bare access token (default)
                      json   the whole response: access_token, token_type, expires_in, expires_at, scope, profile
                      env    CYBERARK_TOKEN=<token>, e.g. >> "$GITHUB_ENV"
  --region REGION     region to sign for (default: from the URL, else $AWS_REGION)
  -h, --help          show this help

On GitHub Actions (GITHUB_ACTIONS=true) the token is first masked in the job log: the line
::add-mask::<token> goes to stderr, so stdout holds only the requested output.

Exit codes: 0 token printed; 1 the request was denied or failed (one line on stderr names the
error code, e.g. access_denied, or credentials_error when no AWS credentials were found to sign
with); 2 bad usage.

Examples:
  TOKEN="$(cyberark-token get ci-deployer --url "$CYBERARK_TOKEN_URL")"
  cyberark-token get ci-deployer --format env >> "$GITHUB_ENV"

Install it pinned, from a lockfile or a release tarball checked against its SHA-256 (README,
"Installing the package"); in a project, npx --no cyberark-token runs the installed one. Never a
bare npx: where the package is missing, it fetches whatever the registry holds under that name.`;

/** Where the command reads and writes; `process` in real use. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Builds the client; tests inject fakes through it. */
  readonly newClient?: (options: TokenVendingClientOptions) => Pick<TokenVendingClient, "getToken">;
}

const FORMATS = ["token", "json", "env"] as const;
const PRINTABLE_TOKEN = /^[\x21-\x7E]{1,16384}$/;

// A workflow command's data is escaped as the runner expects (`%`, CR, LF), as @actions/core does;
// the runner unescapes it, so the mask registers the token exactly.
function escapeCommandData(value: string): string {
  return value.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

class UsageError extends Error {}

function parse(argv: string[], env: NodeJS.ProcessEnv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      "min-validity": { type: "string" },
      format: { type: "string" },
      region: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { help: true as const };
  const [command, profile, ...extra] = positionals;
  if (command !== "get")
    throw new UsageError(command ? `unknown command "${command}"` : "missing command: get");
  if (!profile) throw new UsageError("missing <profile>");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const url = values.url ?? env.CYBERARK_TOKEN_URL;
  if (!url) throw new UsageError("missing --url (or CYBERARK_TOKEN_URL)");
  try {
    parseApiUrl(url);
  } catch (error) {
    throw new UsageError(`--url ${(error as Error).message}`);
  }
  const minValidityText = values["min-validity"] ?? "300";
  const minValidity = /^\d{1,4}$/.test(minValidityText) ? Number(minValidityText) : Number.NaN;
  if (!(minValidity <= 3600))
    throw new UsageError("--min-validity must be a whole number of seconds from 0 to 3600");
  const format = values.format ?? "token";
  if (!FORMATS.includes(format as (typeof FORMATS)[number])) {
    throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
  }
  return {
    help: false as const,
    profile,
    url,
    minValidity,
    format: format as (typeof FORMATS)[number],
    ...(values.region ? { region: values.region } : {}),
  };
}

/** Runs the command; resolves to its exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv, io.env);
  } catch (error) {
    io.stderr(`cyberark-token: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }

  try {
    const clientOptions = {
      url: options.url,
      ...(options.region ? { region: options.region } : {}),
    };
    const client = (io.newClient ?? ((o) => new TokenVendingClient(o)))(clientOptions);
    const token = await client.getToken(options.profile, { minValidity: options.minValidity });
    // A token is one line of printable ASCII. Anything else (a broken tenant or proxy) could
    // slip lines past the mask, into the log as workflow commands or into $GITHUB_ENV.
    if (!PRINTABLE_TOKEN.test(token.access_token)) {
      io.stderr(
        "cyberark-token: invalid_token: the service returned a token with characters that cannot be printed safely\n",
      );
      return 1;
    }
    // Mask before anything prints the token, so it never appears in a GitHub Actions log. On
    // stderr, which the runner reads for workflow commands too: stdout must hold only the output,
    // or `>> "$GITHUB_ENV"` would put the mask line in the env file (where the runner rejects it
    // and prints it, token included) and `$(...)` would capture two lines.
    if (io.env.GITHUB_ACTIONS === "true") {
      io.stderr(`::add-mask::${escapeCommandData(token.access_token)}\n`);
    }
    const output = {
      token: token.access_token,
      json: JSON.stringify(token),
      env: `CYBERARK_TOKEN=${token.access_token}`,
    }[options.format];
    io.stdout(`${output}\n`);
    return 0;
  } catch (error) {
    if (error instanceof TokenVendingError) {
      const requestId = error.requestId ? ` (request_id ${error.requestId})` : "";
      io.stderr(`cyberark-token: ${error.error}: ${error.description}${requestId}\n`);
    } else {
      io.stderr(
        `cyberark-token: error: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
    return 1;
  }
}
