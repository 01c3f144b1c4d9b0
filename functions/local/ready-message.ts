/**
 * What the local server prints once it listens: where, with what, and how to fetch a token.
 */
import { DEMO_ADMIN, DEMO_PROFILE } from "./backends.js";

/** What the ready message says. */
export interface ReadyFacts {
  readonly url: string;
  readonly caller: string;
  readonly description: string;
  readonly exampleProfile: string;
  /** The per-start secret's file (`--profiles`). */
  readonly secretFile: string | undefined;
  /** The door the server stands in for, when not the REST API. */
  readonly frontDoor: string;
}

/** The ready message, one line per fact. */
export function readyMessage(facts: ReadyFacts): string {
  const { url, caller, exampleProfile, secretFile } = facts;
  const tokenUrl = `${url}/tokens/${exampleProfile}`;
  // curl reads the header line from the file, so the secret shows on no command line.
  const withSecret = secretFile ? ` -H ${shellQuote(`@${secretFile}`)}` : "";
  return [
    `cyberark-token-vending local server listening on ${url}`,
    `  ${facts.description}`,
    ...(facts.frontDoor === "rest-api" ? [] : [`  front door: ${facts.frontDoor} events`]),
    `  caller: ${caller} (per request: header x-caller-arn)`,
    ...(secretFile
      ? [
          `  answers only requests with its per-start secret, in ${secretFile} (readable by you`,
          "  alone; the CLI sends it by itself)",
        ]
      : []),
    "",
    "Fetch a token:",
    `  curl -s --fail-with-body${withSecret} ${tokenUrl}`,
    `  npm run --silent cyberark-token -- get ${exampleProfile} --url ${url}`,
    ...(exampleProfile === DEMO_PROFILE
      ? [
          "Drop the cached token (as the demo admin):",
          `  curl -s --fail-with-body -X DELETE -H 'x-caller-arn: ${DEMO_ADMIN}' ${tokenUrl}`,
        ]
      : []),
    "",
    "Stop with Ctrl-C.",
  ].join("\n");
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
