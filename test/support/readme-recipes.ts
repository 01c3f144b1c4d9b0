/**
 * The recipes of README.md and docs/ (each a code block after `<!-- recipe: NAME -->`), and what running them as written needs: a local server that vends the
 * profile they name, and an `npm` whose `npm ci --prefix <tool project>` installs this working
 * tree's CLI.
 *
 * Substitutions, and only these: `npm ci --prefix DIR` is a stand-in `npm` first on PATH, which
 * puts `DIR/node_modules/.bin/cyberark-token` (running this working tree's CLI) where the tool
 * project's lockfile would install it, and refuses any other npm command; the API URL the recipes
 * name (CYBERARK_TOKEN_URL) is the local server's; files the CI system would provide are temp
 * files.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { createSecret, uniqueName } from "./aws.js";
import { markedBlock } from "./markdown.js";

/** The caller the recipe server assumes: a CI role the profile `ci-deployer` allows. */
export const CI_CALLER = "arn:aws:sts::111122223333:assumed-role/ci-deployer/run-1";

/** The code block after `<!-- recipe: NAME -->` in README.md or a docs/ page (exactly one). */
export function readmeRecipe(name: string): string {
  return markedBlock("recipe", name).code;
}

/** A directory holding the stand-in `npm`, to put first on PATH. */
export function npmShim(): string {
  const directory = join(mkdtempSync(join(tmpdir(), "ctv-shim-")), "bin");
  mkdirSync(directory);
  const cli = `exec ${JSON.stringify(resolve("node_modules/.bin/tsx"))} ${JSON.stringify(resolve("functions/client/bin.ts"))} "$@"`;
  writeFileSync(
    join(directory, "npm"),
    `#!/usr/bin/env bash
# Stand-in for npm in README recipe tests: "npm ci --prefix DIR" installs the working tree's CLI.
set -euo pipefail
if [[ "$1" != "ci" || "$2" != "--prefix" ]]; then
  echo "npm stand-in: unexpected command: npm $* (the README must install with npm ci --prefix)" >&2
  exit 127
fi
mkdir -p "$3/node_modules/.bin"
cat > "$3/node_modules/.bin/cyberark-token" <<'WRAPPER'
#!/usr/bin/env bash
${cli}
WRAPPER
chmod +x "$3/node_modules/.bin/cyberark-token"
`,
    { mode: 0o755 },
  );
  chmodSync(join(directory, "npm"), 0o755);
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
