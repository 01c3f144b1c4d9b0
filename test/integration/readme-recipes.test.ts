/**
 * Every README recipe that prints a token, run as written in bash (the substitutions are listed
 * in test/support/readme-recipes.ts), with the env file parsed as the runner parses it: the token
 * shows nowhere but where the recipe puts it, and the env file holds exactly CYBERARK_TOKEN.
 * The GitHub Action recipe runs in github-action.test.ts, beside the installed action.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { localServerHeaders } from "../../functions/common/local-secret.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { parseFileCommands } from "../support/github-runner.js";
import { section } from "../support/markdown.js";
import { withoutAwsCredentials } from "../support/no-aws-credentials.js";
import { npmShim, readmeRecipe, startRecipeServer } from "../support/readme-recipes.js";

const run = promisify(execFile);

let recipes: Awaited<ReturnType<typeof startRecipeServer>>;
let shim: string;
beforeAll(async () => {
  recipes = await startRecipeServer(inject("simulatorTls"));
  shim = npmShim();
});
afterAll(async () => {
  await recipes.close();
});

/** The token the server vends to the recipes' caller right now (from its cache). */
async function currentToken(): Promise<string> {
  const response = await fetch(`${recipes.server.url}/tokens/ci-deployer`, {
    headers: localServerHeaders(new URL(recipes.server.url)),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Runs `script` as a CI shell step does, in `directory` with an empty env file. */
async function runStep(
  script: string,
  env: NodeJS.ProcessEnv,
  directory = mkdtempSync(join(tmpdir(), "ctv-recipe-")),
) {
  const envFile = join(directory, "github-env");
  writeFileSync(envFile, "");
  const result = await run("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
    cwd: directory,
    env: {
      ...process.env,
      PATH: `${shim}:${process.env.PATH}`,
      GITHUB_ENV: envFile,
      CYBERARK_TOKEN_URL: recipes.server.url,
      ...env,
    },
  });
  return { ...result, directory, envFile: readFileSync(envFile, "utf8") };
}

/** The lines of a step's output that carry the token. */
function linesWith(text: string, token: string): string[] {
  return text.split("\n").filter((line) => line.includes(token));
}

describe("README recipes", () => {
  it("From GitHub Actions, without the action: the env file gets exactly CYBERARK_TOKEN, masked first", async () => {
    const recipe = readmeRecipe("github-cli");
    // The step's `run: |` block, its indentation removed.
    const block = recipe.slice(recipe.indexOf("run: |\n") + "run: |\n".length);
    const script = block.replace(/^ {10}/gm, "");
    expect(recipe).toMatch(/CYBERARK_TOKEN_URL: https:\/\//);

    const step = await runStep(script, { GITHUB_ACTIONS: "true" });

    const token = await currentToken();
    expect(parseFileCommands(step.envFile)).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expect(step.stdout).toBe("");
    expect(linesWith(step.stderr, token)).toEqual([`::add-mask::${token}`]);
  });

  it("From GitLab CI: CYBERARK_TOKEN holds exactly the token, the OIDC token sits in a private temporary file removed after, and no output shows either", async () => {
    const recipe = readmeRecipe("gitlab");
    const script = recipe.slice(recipe.indexOf("  script:\n"));
    const lines = [...script.matchAll(/^ {4}- (.+)$/gm)].map((m) => m[1] ?? "");
    const variables = Object.fromEntries(
      [...recipe.matchAll(/^ {4}(AWS_[A-Z_]+): (.+)$/gm)].map((m) => [m[1], m[2]]),
    );
    // On a shell executor every job of the runner shares the temporary directory: a fixed name
    // there is readable by other users and left for the next job.
    expect(variables).not.toHaveProperty("AWS_WEB_IDENTITY_TOKEN_FILE");
    const directory = mkdtempSync(join(tmpdir(), "ctv-gitlab-"));
    // The runner's temporary directory, where mktemp puts the file.
    const shared = mkdtempSync(join(tmpdir(), "ctv-gitlab-tmp-"));
    // The job's own ./deploy.sh, standing in: keeps what it was given, and where the OIDC token is.
    writeFileSync(
      join(directory, "deploy.sh"),
      `#!/usr/bin/env bash
printf '%s' "$CYBERARK_TOKEN" > deployed-with
printf '%s\\n' "$AWS_WEB_IDENTITY_TOKEN_FILE" "$(stat -c %a "$AWS_WEB_IDENTITY_TOKEN_FILE")" "$(cat "$AWS_WEB_IDENTITY_TOKEN_FILE")" > oidc-file
`,
      { mode: 0o755 },
    );
    const idToken = "id-token-from-gitlab";

    const step = await runStep(
      lines.join("\n"),
      { ...variables, GITHUB_ACTIONS: undefined, AWS_ID_TOKEN: idToken, TMPDIR: shared },
      directory,
    );

    const token = await currentToken();
    expect(readFileSync(join(directory, "deployed-with"), "utf8")).toBe(token);
    const [file = "", mode, content] = readFileSync(join(directory, "oidc-file"), "utf8").split(
      "\n",
    );
    expect(dirname(file)).toBe(shared);
    expect(mode).toBe("600");
    expect(content).toBe(idToken);
    expect(existsSync(file)).toBe(false);
    expect(linesWith(step.stdout + step.stderr, token)).toEqual([]);
    expect(linesWith(step.stdout + step.stderr, idToken)).toEqual([]);
  });

  it("From GitLab CI: when the CLI gets no token, the job fails before ./deploy.sh runs", async () => {
    const recipe = readmeRecipe("gitlab");
    const script = recipe.slice(recipe.indexOf("  script:\n"));
    const lines = [...script.matchAll(/^ {4}- (.+)$/gm)].map((m) => m[1] ?? "");
    const variables = Object.fromEntries(
      [...recipe.matchAll(/^ {4}(AWS_[A-Z_]+): (.+)$/gm)].map((m) => [m[1], m[2]]),
    );
    const directory = mkdtempSync(join(tmpdir(), "ctv-gitlab-"));
    writeFileSync(
      join(directory, "deploy.sh"),
      `#!/usr/bin/env bash\nprintf 'ran with [%s]' "$CYBERARK_TOKEN" > deployed\n`,
      { mode: 0o755 },
    );

    // GitLab runs the script lines in one bash with errexit and pipefail (as runStep does); no
    // service answers here, so the CLI exits non-zero.
    const failed = await runStep(
      lines.join("\n"),
      {
        ...variables,
        GITHUB_ACTIONS: undefined,
        AWS_ID_TOKEN: "id-token-from-gitlab",
        TMPDIR: mkdtempSync(join(tmpdir(), "ctv-gitlab-tmp-")),
        CYBERARK_TOKEN_URL: "http://127.0.0.1:1/",
      },
      directory,
    ).then(
      () => false,
      (error: { code?: number }) => error.code !== undefined && error.code !== 0,
    );

    expect(failed).toBe(true);
    expect(existsSync(join(directory, "deployed"))).toBe(false);
  });

  it("The CLI on GitHub Actions: $(...) captures exactly the token, >> $GITHUB_ENV gets exactly CYBERARK_TOKEN", async () => {
    const recipe = readmeRecipe("cli");
    const directory = mkdtempSync(join(tmpdir(), "ctv-cli-"));

    // After the recipe: the test's look at what $(...) captured.
    const step = await runStep(`${recipe}printf '%s' "$TOKEN" > "${directory}/captured"\n`, {
      GITHUB_ACTIONS: "true",
    });

    const token = await currentToken();
    expect(readFileSync(join(directory, "captured"), "utf8")).toBe(token);
    expect(parseFileCommands(step.envFile)).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expect(step.stdout).toBe("");
    expect(linesWith(step.stderr, token)).toEqual([`::add-mask::${token}`, `::add-mask::${token}`]);
  });
});

/** The commands of the README's Quick start: every line of its code blocks. */
function quickStartCommands(): string[] {
  const quickStart = section("README.md", "Quick start");
  return [...quickStart.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].flatMap((block) =>
    (block[1] ?? "").split("\n").filter((line) => line.trim() !== ""),
  );
}

describe("README Quick start", () => {
  let embedded: RunningLocalServer;
  beforeAll(async () => {
    embedded = await startLocalServer({ port: 0 });
  });
  afterAll(async () => {
    await embedded.close();
  });

  it("shows only commands that npm start prints (the npm start test runs those as printed)", () => {
    const printed = embedded.readyMessage
      .split("\n")
      .filter((line) => /^ {2}(curl|npm) /.test(line))
      .map((line) => line.trim().replaceAll(embedded.url, "http://127.0.0.1:8787"));
    const shown = quickStartCommands().filter((line) => line.includes("http://127.0.0.1:8787"));

    expect(shown.length).toBeGreaterThanOrEqual(6);
    for (const line of shown) expect(printed).toContain(line);
  });

  it("runs every command it shows: the server's against the demo, as written (its port aside)", async () => {
    const results: { command: string; code: number; stdout: string }[] = [];
    const others: string[] = [];
    for (const command of quickStartCommands()) {
      if (!command.includes("http://127.0.0.1:8787")) {
        others.push(command);
        continue;
      }
      const line = command.replaceAll("http://127.0.0.1:8787", embedded.url);
      const result = await run("sh", ["-c", line], { env: withoutAwsCredentials() }).then(
        (done) => ({ code: 0, ...done }),
        (error: { code: number; stdout: string }) => error,
      );
      results.push({ command, code: result.code, stdout: result.stdout });
    }

    expect(results.map((result) => [result.command, result.code])).toEqual(
      results.map((result) => [result.command, 0]),
    );
    const answers = results
      .filter((result) => result.command.startsWith("curl") && result.stdout !== "")
      .map((result) => JSON.parse(result.stdout));
    expect(answers.map((answer) => answer.scope ?? answer.error ?? answer.profile)).toEqual([
      "demo",
      "read",
      "deploy read",
      "access_denied",
    ]);
    // The rest: the start itself, and the test commands, which are this suite (so not run here).
    expect(others).toEqual([
      "npm ci && npm start",
      "npm run test:unit",
      "pip install -r test/requirements.txt -c test/constraints.txt",
      "npm test",
    ]);
  });

  it("names scripts and files that exist: npm start, the Node-only tests, the pinned Python tools", () => {
    const scripts = (
      JSON.parse(readFileSync("package.json", "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.start).toBe("tsx functions/local/main.ts");
    expect(scripts["test:unit"]).toMatch(/vitest run --project unit$/);
    expect(scripts.test).toContain("vitest run");
    expect(readFileSync("test/requirements.txt", "utf8")).toMatch(/^moto\[server\]==/m);
  });
});
