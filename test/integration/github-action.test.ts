/**
 * The GitHub Action (action.yml) run as a runner runs a `node24` JavaScript action: its `main`
 * with `INPUT_*` variables, GITHUB_OUTPUT and GITHUB_ENV files, in a copy of the files the action
 * uses and nothing else (no package.json, no node_modules: the committed bundle must run alone),
 * against the local server, with file commands and workflow commands read by the runner's rules.
 * The server vends the profile the README's recipes name.
 */
import { cpSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningLocalServer } from "../../functions/local/start.js";
import { type FlakyApi, startFlakyApi } from "../support/flaky-api.js";
import { type ActionRun, runNodeAction } from "../support/github-runner.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";
import { readmeRecipe, startRecipeServer } from "../support/readme-recipes.js";

const ACTION_FILES = ["action.yml", "functions/client/github-action.mjs"];

let recipes: Awaited<ReturnType<typeof startRecipeServer>>;
let server: RunningLocalServer;
let api: FlakyApi;
let actionPath: string;
/** The job's environment: no URL of its own, no GitHub variables of this test's machine. */
let jobEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  [recipes, api] = await Promise.all([startRecipeServer(inject("simulatorTls")), startFlakyApi()]);
  server = recipes.server;
  actionPath = mkdtempSync(join(tmpdir(), "ctv-action-"));
  for (const path of ACTION_FILES) cpSync(path, join(actionPath, path), { recursive: true });
  // The job's own CYBERARK_TOKEN and CYBERARK_TOKEN_URL are left out; CYBERARK_TOKEN_LOCAL_DIR
  // stays, since it is where this run's local server keeps its per-start secret.
  jobEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(GITHUB_|INPUT_|CYBERARK_TOKEN$|CYBERARK_TOKEN_URL$)/.test(name),
    ),
  );
});
afterAll(async () => {
  await Promise.all([recipes.close(), api.close()]);
});

/** The token shows in the step's log only in the mask line, which comes first. */
function expectMaskedFirst(run: ActionRun, token: string): void {
  expect(run.stdout.split("\n")[0]).toBe(`::add-mask::${token}`);
  expect(run.stdout.split(token)).toHaveLength(2);
  expect(run.stderr).not.toContain(token);
}

describe("the GitHub Action", () => {
  it("holds only action.yml and its bundle in the directory it runs from", () => {
    expect(readdirSync(actionPath, { recursive: true }).sort()).toEqual(
      ["action.yml", "functions", "functions/client", "functions/client/github-action.mjs"].sort(),
    );
  });

  it("runs its bundle with nothing installed, masks the token first, sets the outputs token and expires-at; export-env false leaves the job's environment alone", async () => {
    const run = await runNodeAction(
      actionPath,
      { profile: "ci-deployer", url: server.url },
      jobEnv,
    );

    const token = run.outputs.get("token") ?? "";
    expect(run.code).toBe(0);
    expect(token).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(run.outputs.get("expires-at")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(run.masks).toEqual([token]);
    expectMaskedFirst(run, token);
    expect(run.jobEnv).toEqual(new Map());
    expect(run.errors).toEqual([]);
  });

  it("with export-env: true, sets CYBERARK_TOKEN for later steps; url defaults to CYBERARK_TOKEN_URL", async () => {
    const run = await runNodeAction(
      actionPath,
      { profile: "ci-deployer", "export-env": "true", "min-validity": "60" },
      { ...jobEnv, CYBERARK_TOKEN_URL: server.url },
    );

    const token = run.outputs.get("token") ?? "";
    expect(token).toMatch(/^ey/);
    expect(run.jobEnv).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expectMaskedFirst(run, token);
  });

  it("passes min-validity and scope on as the query", async () => {
    api.reset();
    const run = await runNodeAction(
      actionPath,
      { profile: "ci-deployer", url: api.url, "min-validity": "60", scope: "b a" },
      jobEnv,
    );

    expect(run.code).toBe(0);
    expect(api.requests.map((r) => r.url)).toEqual([
      "/v1/tokens/ci-deployer?min_validity=60&scope=a+b",
    ]);
  });

  it("fails the step with one ::error:: annotation naming the error and the request id when the request is refused, writing nothing", async () => {
    const run = await runNodeAction(
      actionPath,
      { profile: "no-such-profile", url: server.url, "export-env": "true" },
      jobEnv,
    );

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^::error::[^\n]+\n$/);
    expect(run.errors).toEqual([
      expect.stringMatching(/^cyberark-token: access_denied: .+ \(request_id [\w-]+\)$/),
    ]);
    expect(run.outputs).toEqual(new Map());
    expect(run.jobEnv).toEqual(new Map());
  });

  it("says in one line that the URL is missing", async () => {
    const run = await runNodeAction(actionPath, { profile: "ci-deployer" }, jobEnv);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      "::error::cyberark-token: no API URL: set the url input or CYBERARK_TOKEN_URL\n",
    );
    expect(run.stderr).toBe("");
  });

  it.each([
    [{ "export-env": "yes" }, "export-env must be true or false"],
    [{ "min-validity": "3601" }, "min-validity must be"],
    [{ url: "http://example.com/v1/" }, "url "],
    [{ profile: "" }, "the profile input is required"],
  ])("refuses bad inputs %j with one annotation before any request", async (bad, message) => {
    api.reset();
    const run = await runNodeAction(actionPath, { profile: "p", url: api.url, ...bad }, jobEnv);

    expect(run.code).toBe(1);
    expect(run.errors).toEqual([expect.stringContaining(message)]);
    expect(api.requests).toEqual([]);
  });

  it("times out and retries as the client does: a 503 with Retry-After, then the token", async () => {
    api.reset();
    api.script({ kind: "status", status: 503, retryAfter: "0.1", body: {} });

    const run = await runNodeAction(actionPath, { profile: "p", url: api.url }, jobEnv);

    expect(run.code).toBe(0);
    expect(run.outputs.get("token")).toBe("token-1");
    expect(api.requests).toHaveLength(2);
  });

  it.each(HOSTILE_TOKENS)(
    "refuses a token with %s: exit 1, one invalid_token annotation, no mask, no output, no environment",
    async (_, token) => {
      api.reset();
      api.script({ kind: "token", token });

      const run = await runNodeAction(
        actionPath,
        { profile: "p", url: api.url, "export-env": "true" },
        jobEnv,
      );

      expect(run.code).toBe(1);
      expect(run.errors).toEqual([
        expect.stringMatching(/^cyberark-token: invalid_token: .*b64token/),
      ]);
      expect(run.masks).toEqual([]);
      expect(run.outputs).toEqual(new Map());
      expect(run.jobEnv).toEqual(new Map());
      expect(`${run.stdout}${run.stderr}`).not.toContain(token);
    },
  );

  it("runs the README's recipe with its inputs as written (the job's CYBERARK_TOKEN_URL, the local server's here)", async () => {
    const recipe = readmeRecipe("github-action");
    const step = /^( +)- id: (\S+)\n\1 {2}uses: (\S+)\n\1 {2}with:\n((?:\1 {4}.+\n)+)/m.exec(
      recipe,
    );
    const [, , id, uses, withLines] = step ?? [];
    const inputs = Object.fromEntries(
      [...(withLines ?? "").matchAll(/^ +([\w-]+): (.+)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(uses).toMatch(/\/cyberark-token-vending@<full-commit-sha>$/);
    expect(recipe).toMatch(/^ +CYBERARK_TOKEN_URL: https:\/\//m);

    const run = await runNodeAction(actionPath, inputs, {
      ...jobEnv,
      CYBERARK_TOKEN_URL: server.url,
    });

    const token = run.outputs.get("token") ?? "";
    expect(inputs).toEqual({ profile: "ci-deployer", "export-env": "true" });
    expect(run.jobEnv).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expect(recipe).toContain(`\${{ steps.${id}.outputs.token }}`);
    expect(recipe).toContain(`\${{ steps.${id}.outputs.expires-at }}`);
    expectMaskedFirst(run, token);
  });
});
