/**
 * The GitHub Action (`action.yml`, `runs.using: node24`): the runner runs the committed bundle of
 * this file with its own Node.js, so the action also works in `container:` jobs whose image has
 * no Node, and installs or downloads nothing. Inputs arrive as `INPUT_<NAME>` variables (the
 * runner keeps the hyphen: `INPUT_MIN-VALIDITY`); outputs and environment go to the files named by
 * `GITHUB_OUTPUT` and `GITHUB_ENV`; workflow commands (`::add-mask::`, `::error::`) to stdout.
 *
 * Order matters: the token is checked (an RFC 6750 b64token, as the CLI checks it), then masked,
 * then written; a failure writes nothing but one `::error::` annotation and exits 1.
 */

import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { isB64Token, NOT_A_B64TOKEN } from "../common/b64token.js";
import {
  DEFAULT_MIN_VALIDITY_SECONDS,
  MIN_VALIDITY_RULE,
  parseMinValidity,
} from "../common/min-validity.js";
import { InvalidApiUrlError, parseApiUrl } from "./api-url.js";
import { DEFAULT_CLI_TIMEOUT_SECONDS } from "./cli-args.js";
import { TokenVendingClient, type TokenVendingClientOptions } from "./client.js";
import { failureLine } from "./errors.js";
import { escapeData } from "./workflow-command.js";

/** Where the action reads and writes; `process` in real use. */
export interface ActionIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  /** Builds the client; tests inject fakes through it. */
  readonly newClient?: (options: TokenVendingClientOptions) => Pick<TokenVendingClient, "getToken">;
}

/** A failure reported as it is worded: bad inputs, no runner files, an unusable token. */
class ActionFailure extends Error {}

/** Runs the action; resolves to its exit code (0, or 1 after an `::error::` annotation). */
export async function runAction(io: ActionIo): Promise<number> {
  try {
    const inputs = readInputs(io.env);
    const client = (io.newClient ?? ((options) => new TokenVendingClient(options)))({
      url: inputs.url,
      timeoutMs: DEFAULT_CLI_TIMEOUT_SECONDS * 1000,
    });
    const token = await client.getToken(inputs.profile, {
      minValidity: inputs.minValidity,
      ...(inputs.scope === "" ? {} : { scope: inputs.scope }),
    });
    if (!isB64Token(token.access_token)) {
      throw new ActionFailure(
        `invalid_token: the service returned an unusable token: ${NOT_A_B64TOKEN}`,
      );
    }
    // Masked before it is written anywhere, so no later line of the job can show it.
    io.stdout(`::add-mask::${token.access_token}\n`);
    appendFileSync(inputs.outputFile, fileCommand("token", token.access_token));
    appendFileSync(inputs.outputFile, fileCommand("expires-at", token.expires_at));
    if (inputs.exportEnv) {
      appendFileSync(inputs.envFile, fileCommand("CYBERARK_TOKEN", token.access_token));
    }
    return 0;
  } catch (error) {
    const line = error instanceof ActionFailure ? error.message : failureLine(error);
    io.stdout(`::error::${escapeData(`cyberark-token: ${line}`)}\n`);
    return 1;
  }
}

function readInputs(env: NodeJS.ProcessEnv) {
  const input = (name: string) => (env[`INPUT_${name.toUpperCase()}`] ?? "").trim();
  const profile = input("profile");
  if (profile === "") throw new ActionFailure("the profile input is required");
  const url = input("url") || (env.CYBERARK_TOKEN_URL ?? "").trim();
  if (url === "") throw new ActionFailure("no API URL: set the url input or CYBERARK_TOKEN_URL");
  try {
    parseApiUrl(url);
  } catch (error) {
    if (error instanceof InvalidApiUrlError) throw new ActionFailure(`url ${error.message}`);
    throw error;
  }
  const minValidity = parseMinValidity(
    input("min-validity") || String(DEFAULT_MIN_VALIDITY_SECONDS),
  );
  if (minValidity === undefined)
    throw new ActionFailure(`min-validity must be ${MIN_VALIDITY_RULE}`);
  const exportEnv = booleanOf(input("export-env"));
  const outputFile = env.GITHUB_OUTPUT;
  const envFile = env.GITHUB_ENV;
  if (!outputFile || !envFile) {
    throw new ActionFailure(
      "GITHUB_OUTPUT and GITHUB_ENV are not set: run this as a GitHub Action",
    );
  }
  return { profile, url, minValidity, scope: input("scope"), exportEnv, outputFile, envFile };
}

// The YAML 1.2 core schema's booleans, as the runner's own inputs accept them.
function booleanOf(text: string): boolean {
  if (["true", "True", "TRUE"].includes(text)) return true;
  if (["false", "False", "FALSE", ""].includes(text)) return false;
  throw new ActionFailure("export-env must be true or false");
}

/**
 * One `NAME<<DELIMITER` entry of a file command, as `@actions/core` writes it: a delimiter the
 * value cannot contain, so no value can add entries of its own.
 */
function fileCommand(name: string, value: string): string {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (value.includes(delimiter)) throw new ActionFailure(`the ${name} value is unusable`);
  return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
}
