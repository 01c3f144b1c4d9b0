/**
 * What the local server prints once it listens: where, with what, and commands that work as
 * printed for the caller it was given: a token, and, in the embedded demo, a DELETE and the
 * scopes demo (a narrowed token, a wider one, a refused ask, a DELETE that revokes both).
 */
import { isAllowed, parseCaller } from "../core/callers.js";
import type { ProfilesConfig } from "../core/profiles.js";
import {
  DEMO_ADMIN,
  DEMO_CALLER,
  DEMO_PROFILE,
  DEMO_READER,
  DEMO_SCOPED_PROFILE,
} from "./backends.js";

/** What the ready message says. */
export interface ReadyFacts {
  readonly url: string;
  /** The caller of requests without `x-caller-arn` (`--caller`). */
  readonly caller: string;
  readonly description: string;
  readonly config: ProfilesConfig;
  /** The embedded demo: its DEMO_* profiles and callers. */
  readonly embedded: boolean;
  /** The per-start secret's file (`--profiles`). */
  readonly secretFile: string | undefined;
  /** The door the server stands in for, when not the REST API. */
  readonly frontDoor: string;
}

/** The ready message, one line per fact. */
export function readyMessage(facts: ReadyFacts): string {
  const { url, caller, secretFile } = facts;
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
    ...(facts.embedded ? demoCommands(facts) : profilesCommands(facts)),
    "",
    "Stop with Ctrl-C.",
  ].join("\n");
}

/** Whether `caller` may get a token of `profile` (its allowed callers, granted ones aside). */
function mayUse(config: ProfilesConfig, caller: string, profile: string): boolean {
  const allowed = config.profiles.get(profile)?.allowedCallers ?? [];
  return isAllowed(parseCaller(caller), allowed);
}

function demoCommands(facts: ReadyFacts): string[] {
  const { url, caller } = facts;
  const tokenUrl = `${url}/tokens/${DEMO_PROFILE}`;
  const scopedUrl = `${url}/tokens/${DEMO_SCOPED_PROFILE}`;
  const ask = `'${scopedUrl}?scope=deploy%20read'`;
  const as = (arn: string) => ` -H 'x-caller-arn: ${arn}'`;
  // A caller that may not use the demo profile (the admin, say) gets commands that name one that may.
  const own = mayUse(facts.config, caller, DEMO_PROFILE);
  return [
    "Fetch a token:",
    ...(own
      ? [
          `  curl -s --fail-with-body ${tokenUrl}`,
          `  npm run --silent cyberark-token -- get ${DEMO_PROFILE} --url ${url}`,
        ]
      : [
          `  (as the demo caller: ${caller} may not use "${DEMO_PROFILE}", and the CLI cannot name a caller)`,
          `  curl -s --fail-with-body${as(DEMO_CALLER)} ${tokenUrl}`,
        ]),
    "Drop the cached token (as the demo admin):",
    `  curl -s --fail-with-body -X DELETE${as(DEMO_ADMIN)} ${tokenUrl}`,
    "",
    `Scopes: "${DEMO_SCOPED_PROFILE}" may grant "deploy read"; demo-caller may ask for both, demo-reader for "read" only.`,
    "A token narrowed to read (demo-reader's default), one for deploy read, the reader's wider ask",
    "refused (403), and a DELETE that revokes both tokens at the tenant (see its audit line):",
    `  curl -s --fail-with-body${as(DEMO_READER)} ${scopedUrl}`,
    `  curl -s --fail-with-body${as(DEMO_CALLER)} ${ask}`,
    `  curl -s${as(DEMO_READER)} ${ask}`,
    `  curl -s --fail-with-body -X DELETE${as(DEMO_ADMIN)} ${scopedUrl}`,
  ];
}

function profilesCommands(facts: ReadyFacts): string[] {
  const { url, caller, config, secretFile } = facts;
  const names = [...config.profiles.keys()];
  const usable = names.find((name) => mayUse(config, caller, name));
  const profile = usable ?? names[0] ?? "<profile>";
  // curl reads the header line from the file, so the secret shows on no command line.
  const withSecret = secretFile ? ` -H ${shellQuote(`@${secretFile}`)}` : "";
  return [
    "Fetch a token:",
    ...(usable
      ? []
      : [
          `  (${caller} is in no profile's allowedCallers: these answer 403; give --caller one that is)`,
        ]),
    `  curl -s --fail-with-body${withSecret} ${url}/tokens/${profile}`,
    `  npm run --silent cyberark-token -- get ${profile} --url ${url}`,
  ];
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
