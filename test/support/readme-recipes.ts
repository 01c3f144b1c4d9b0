/**
 * The README's recipes, and what running them as written needs: a local server that vends the
 * profile they name, and an `npx` that runs this working tree's CLI.
 *
 * Substitutions, and only these: `npx --yes cyberark-token-vending@<version>` (and `npx
 * cyberark-token`) run this working tree's CLI through a stand-in `npx` first on PATH, which
 * insists on the version in package.json; the API URL the recipes name
 * (CYBERARK_TOKEN_URL) is the local server's; files the CI system would provide are temp files.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { createSecret, uniqueName } from "./aws.js";

/** The caller the recipe server assumes: a CI role the profile `ci-deployer` allows. */
export const CI_CALLER = "arn:aws:sts::111122223333:assumed-role/ci-deployer/run-1";

/** The code block after `<!-- recipe: NAME -->` in README.md. */
export function readmeRecipe(name: string): string {
  const readme = readFileSync("README.md", "utf8");
  const marker = `<!-- recipe: ${name} -->\n`;
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`README.md has no recipe ${name}`);
  const block = /^```\w*\n([\s\S]*?)^```$/m.exec(readme.slice(start + marker.length));
  if (!block?.[1]) throw new Error(`recipe ${name} is not followed by a code block`);
  return block[1];
}

/** A directory holding the stand-in `npx`, to put first on PATH. */
export function npxShim(): string {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  const directory = join(mkdtempSync(join(tmpdir(), "ctv-shim-")), "bin");
  mkdirSync(directory);
  const npx = join(directory, "npx");
  writeFileSync(
    npx,
    `#!/usr/bin/env bash
# Stand-in for npx in README recipe tests: runs the working tree's CLI for the package named.
if [[ "$1" == "--yes" ]]; then shift; fi
case "$1" in
  cyberark-token-vending@${version} | cyberark-token) shift ;;
  *) echo "npx stand-in: unexpected package $1 (the README must name cyberark-token-vending@${version})" >&2; exit 127 ;;
esac
exec ${JSON.stringify(resolve("node_modules/.bin/tsx"))} ${JSON.stringify(resolve("functions/client/bin.ts"))} "$@"
`,
  );
  chmodSync(npx, 0o755);
  return directory;
}

/** A local server in --profiles mode (moto, HTTPS simulator) that vends `ci-deployer`. */
export async function startRecipeServer(tls: {
  key: string;
  cert: string;
}): Promise<{ server: RunningLocalServer; close(): Promise<void> }> {
  const credentials = { client_id: "svc-ci@example.com", client_secret: "ci-Secret" };
  const simulator = new IdentitySimulator({
    tls,
    clients: [{ clientId: credentials.client_id, clientSecret: credentials.client_secret }],
  });
  const tenantUrl = await simulator.start();
  const secretId = await createSecret(uniqueName("cyberark/ci-deployer"), credentials);
  const profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-recipes-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        "ci-deployer": {
          tenantUrl,
          secretId,
          allowedCallers: ["arn:aws:iam::111122223333:role/ci-*"],
        },
      },
    }),
  );
  const server = await startLocalServer({
    port: 0,
    profilesFile,
    table: uniqueName("recipe-tokens"),
    caller: CI_CALLER,
  });
  return {
    server,
    close: async () => {
      await server.close();
      await simulator.stop();
    },
  };
}
