/**
 * `npm start`: the local server's command line. Wiring only; see `start.ts`.
 */
import { parseArgs } from "node:util";
import { ProfilesConfigError } from "../core/profiles.js";
import { launchers, watchLaunchers } from "./launcher-watch.js";
import { validRenewEvery } from "./renewal-timer.js";
import type { LocalFrontDoor } from "./server.js";
import { startLocalServer } from "./start.js";

const USAGE = `Usage: npm start -- [options]

Runs the token-vending handler on http://127.0.0.1:8787. Without --profiles: an embedded
DynamoDB-compatible store, a CyberArk Identity simulator and two demo profiles (demo, and
demo-scoped with scopes), nothing to set up. It answers only requests whose Host is 127.0.0.1:PORT, localhost:PORT or [::1]:PORT and that
carry no Origin header (403 otherwise), so no web page can get a token from it. With --profiles
(real tokens) it also wants a secret made at each start, kept in a file only you can read
(~/.cyberark-token-vending/local-PORT.header, or under CYBERARK_TOKEN_LOCAL_DIR); the ready
commands and the CLI send it (to http://127.0.0.1:PORT only, the address the server binds),
so other users of the host get 403.

Options:
  --port N            listen port (also PORT; default 8787)
  --profiles FILE     use this profiles file: secrets from Secrets Manager, cache in DynamoDB,
                      through the standard AWS environment (AWS_REGION, credentials, AWS_ENDPOINT_URL)
  --table NAME        DynamoDB table, created if missing (with --profiles; default cyberark-token-vending-local)
  --kms-key-id ID     KMS key sealing cached tokens (with --profiles; default: a key local to this process)
  --caller ARN        caller identity for requests without an x-caller-arn header (with
                      --profiles, x-caller-arn counts only beside the secret)
  --renew-every N     seconds between scheduled renewals of profiles with "prewarm": true, the
                      first at start (default 60; 0 turns them off)
  --front-door DOOR   whose events to serve: rest-api (default) or function-url (each request
                      becomes a function URL event, through the deployed function's adapter)
  -h, --help          show this help`;

class UsageError extends Error {}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      profiles: { type: "string" },
      table: { type: "string" },
      "kms-key-id": { type: "string" },
      caller: { type: "string" },
      "renew-every": { type: "string" },
      "front-door": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const portText = values.port ?? process.env.PORT ?? "8787";
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 0 && port <= 65_535))
    throw new UsageError(`--port must be a number from 0 to 65535, not "${portText}"`);
  const renewEverySeconds = validRenewEvery(values["renew-every"] ?? "60");
  const frontDoor = values["front-door"] ?? "rest-api";
  if (frontDoor !== "rest-api" && frontDoor !== "function-url") {
    throw new UsageError(`--front-door must be rest-api or function-url, not "${frontDoor}"`);
  }
  const door: LocalFrontDoor = frontDoor;
  if (!values.profiles && (values.table || values["kms-key-id"])) {
    throw new UsageError("--table and --kms-key-id go with --profiles");
  }
  return {
    help: values.help ?? false,
    options: {
      port,
      renewEverySeconds,
      frontDoor: door,
      ...(values.profiles ? { profilesFile: values.profiles } : {}),
      ...(values.table ? { table: values.table } : {}),
      ...(values["kms-key-id"] ? { kmsKeyId: values["kms-key-id"] } : {}),
      ...(values.caller ? { caller: values.caller } : {}),
    },
  };
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(exitCode);
}

async function main(): Promise<void> {
  // Who launched this process, found now: once the ready message shows, one may already be gone.
  const launchedBy = launchers();
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const server = await startLocalServer(parsed.options).catch((error: unknown) => {
    if (error instanceof ProfilesConfigError) fail(error.problems.join("\nerror: "), 1);
    fail(error instanceof Error ? error.message : String(error), 1);
  });
  process.stdout.write(`${server.readyMessage}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Once npm is gone its terminal or pipe may be too: a failed write must not stop the cleanup.
    process.stdout.on("error", () => {});
    process.stdout.write(`\n${signal}: stopping\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGHUP", () => stop("SIGHUP"));
  // A signal to npm (or tsx) alone ends them, not this process: stop with them.
  watchLaunchers(launchedBy, () => stop("launcher exited"));
}

await main();
