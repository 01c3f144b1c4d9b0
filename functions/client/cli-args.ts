/**
 * The `cyberark-token` command line: its usage text and the parsing of its arguments into one
 * checked command. Anything wrong is a {@link UsageError} (exit code 2), found before any request.
 */
import { parseArgs } from "node:util";
import { MIN_VALIDITY_RULE, parseMinValidity } from "../common/min-validity.js";
import { parseApiUrl } from "./api-url.js";

/** Usage text of the command. */
export const USAGE = `Usage: cyberark-token get <profile> [--url URL] [--min-validity N] [--scope S] [--timeout S] [--format token|json|env] [--region R]
       cyberark-token delete <profile> [--url URL] [--timeout S] [--region R]

get     prints a CyberArk Identity access token from the token-vending API.
delete  drops the profile's cached tokens at the service (and revokes them at CyberArk for a
        profile with an applicationId), so every caller gets a new one: for a credential rotation
        or a leaked token. Admin callers only; prints nothing on success.

Requests are signed (SigV4) with the AWS credentials of the environment: the default chain, e.g.
the IAM role of a CI job, AWS_PROFILE, or an SSO session (aws sso login).

Options:
  --url URL           the API's base URL, the stack output ApiUrl (default: $CYBERARK_TOKEN_URL);
                      https://, or http:// only for 127.0.0.1, localhost and [::1]
  --min-validity N    seconds the token must stay valid, 0 to 3600 (default: 300)
  --scope S           the scopes to ask for, space-separated (default: the profile's)
  --timeout S         seconds the command may take, retries included (default: 30); get
                      retries network errors, 429, 502, 503 and 504 with back-off within that
                      time; delete is sent once and may wait all of it
  --format FORMAT     token  the bare access token (default)
                      json   the whole response: access_token, token_type, expires_in, expires_at, scope, profile
                      env    CYBERARK_TOKEN=<token>, e.g. >> "$GITHUB_ENV"
  --region R          region to sign for (default: from the URL, else $AWS_REGION); needed
                      for a custom domain when $AWS_REGION is not set
  -h, --help          show this help

On GitHub Actions (GITHUB_ACTIONS=true) the token is first masked in the job log: the line
::add-mask::<token> goes to stderr, so stdout holds only the requested output. A token that is
not an RFC 6750 b64token (letters, digits, - . _ ~ + / and trailing =, at most 16 KiB, not
beginning with ~, which a shell would expand) is never printed: the command fails with
invalid_token.

Exit codes: 0 done; 1 the request was denied or failed (one line on stderr names the error code,
e.g. access_denied, timeout, or credentials_error when no AWS credentials were found to sign
with); 2 bad usage.

Examples:
  TOKEN="$(cyberark-token get ci-deployer --url "$CYBERARK_TOKEN_URL")"
  cyberark-token get ci-deployer --format env >> "$GITHUB_ENV"
  cyberark-token delete ci-deployer --url "$CYBERARK_TOKEN_URL"

Install it pinned, from a lockfile or a release tarball checked against its SHA-256 (README,
"Installing the package"); in a project, npx --no -- cyberark-token runs the installed one (the
-- hands every later option, --help included, to the command rather than to npx). Never a bare
npx: where the package is missing, it fetches whatever the registry holds under that name.`;

/**
 * Seconds the command and the GitHub Action may take by default, retries included: longer than
 * the library's 10 s, because a CI job would rather wait out a short outage of CyberArk (the
 * service's `503` asks for 5 s) than fail.
 */
export const DEFAULT_CLI_TIMEOUT_SECONDS = 30;

/** The one line printed after a usage error. */
export const USAGE_HINT = `Usage: cyberark-token get|delete <profile> --url URL [options]; see cyberark-token --help`;

const FORMATS = ["token", "json", "env"] as const;

/** A checked command. */
export type Command =
  | { readonly command: "help" }
  | {
      readonly command: "get";
      readonly profile: string;
      readonly url: string;
      readonly region?: string;
      readonly timeoutMs: number;
      readonly minValidity: number;
      readonly scope?: string;
      readonly format: (typeof FORMATS)[number];
    }
  | {
      readonly command: "delete";
      readonly profile: string;
      readonly url: string;
      readonly region?: string;
      readonly timeoutMs: number;
    };

/** Bad usage: the command exits 2 with the message and {@link USAGE_HINT}. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The command `argv` asks for, with `--url` defaulting to `CYBERARK_TOKEN_URL`.
 * @throws {UsageError} naming what is wrong.
 */
export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: "help" };
  const [command, profile, ...extra] = positionals;
  if (command !== "get" && command !== "delete") {
    throw new UsageError(
      command ? `unknown command "${command}"` : "missing command: get or delete",
    );
  }
  if (!profile) throw new UsageError("missing <profile>");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const common = {
    profile,
    url: urlOf(values.url ?? env.CYBERARK_TOKEN_URL),
    ...(values.region ? { region: values.region } : {}),
    timeoutMs: timeoutMsOf(values.timeout ?? String(DEFAULT_CLI_TIMEOUT_SECONDS)),
  };
  if (command === "delete") {
    for (const option of GET_ONLY_OPTIONS) {
      if (values[option] !== undefined) throw new UsageError(`--${option} is for get only`);
    }
    return { command, ...common };
  }
  return {
    command,
    ...common,
    minValidity: minValidityOf(values["min-validity"] ?? "300"),
    ...(values.scope === undefined ? {} : { scope: values.scope }),
    format: formatOf(values.format ?? "token"),
  };
}

/** The options the command takes, as `node:util`'s `parseArgs` reads them. */
export const OPTIONS = {
  url: { type: "string" },
  "min-validity": { type: "string" },
  scope: { type: "string" },
  timeout: { type: "string" },
  format: { type: "string" },
  region: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The options only `get` takes; `delete` refuses them as bad usage. */
export const GET_ONLY_OPTIONS = ["min-validity", "scope", "format"] as const;

function parseOptions(argv: readonly string[]) {
  return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
}

function urlOf(url: string | undefined): string {
  if (!url) throw new UsageError("missing --url (or CYBERARK_TOKEN_URL)");
  try {
    parseApiUrl(url);
  } catch (error) {
    throw new UsageError(`--url ${(error as Error).message}`);
  }
  return url;
}

function minValidityOf(text: string): number {
  const minValidity = parseMinValidity(text);
  if (minValidity === undefined)
    throw new UsageError(`--min-validity must be ${MIN_VALIDITY_RULE}`);
  return minValidity;
}

function timeoutMsOf(text: string): number {
  const seconds = /^\d{1,4}(\.\d{1,3})?$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds > 0 && seconds <= 3600)) {
    throw new UsageError("--timeout must be a number of seconds above 0, at most 3600");
  }
  return Math.round(seconds * 1000);
}

function formatOf(format: string): (typeof FORMATS)[number] {
  const known = FORMATS.find((f) => f === format);
  if (!known) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
  return known;
}
