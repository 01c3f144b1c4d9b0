/**
 * The GitHub Action (action.yml) run as a runner runs it: the steps of the composite action, in
 * a copy of the files the action uses and nothing else (no package.json, no node_modules: the
 * committed CLI bundle must run alone), against the local server, with the file commands parsed
 * by the runner's rules. The server vends the profile the README's recipes name.
 */
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningLocalServer } from "../../functions/local/start.js";
import { type ActionRun, runCompositeAction } from "../support/github-runner.js";
import { readmeRecipe, startRecipeServer } from "../support/readme-recipes.js";

let recipes: Awaited<ReturnType<typeof startRecipeServer>>;
let server: RunningLocalServer;
let actionPath: string;

beforeAll(async () => {
  recipes = await startRecipeServer(inject("simulatorTls"));
  server = recipes.server;
  actionPath = mkdtempSync(join(tmpdir(), "ctv-action-"));
  for (const path of [
    "action.yml",
    "functions/client/github-action.sh",
    "functions/client/github-action.mjs",
  ]) {
    cpSync(path, join(actionPath, path), { recursive: true });
  }
});
afterAll(async () => {
  await recipes.close();
});

/** Where the token shows in a step log: only in the mask line. */
function expectMaskedOnly(run: ActionRun, token: string): void {
  expect(run.stdout).not.toContain(token);
  const lines = run.stderr.split("\n").filter((line) => line.includes(token));
  expect(lines).toEqual([`::add-mask::${token}`]);
}

describe("the GitHub Action", () => {
  it("runs its bundled CLI with nothing installed, masks the token, and sets the output token; export-env false leaves the job's environment alone", async () => {
    const run = await runCompositeAction(
      actionPath,
      { profile: "ci-deployer", url: server.url },
      process.env,
    );

    const token = run.outputs.get("token") ?? "";
    expect(token).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expectMaskedOnly(run, token);
    expect(run.jobEnv).toEqual(new Map());
  }, 240_000);

  it("with export-env: true, sets CYBERARK_TOKEN for later steps; url defaults to CYBERARK_TOKEN_URL", async () => {
    const run = await runCompositeAction(
      actionPath,
      { profile: "ci-deployer", "export-env": "true", "min-validity": "60" },
      { ...process.env, CYBERARK_TOKEN_URL: server.url },
    );

    const token = run.outputs.get("token") ?? "";
    expect(token).toMatch(/^ey/);
    expect(run.jobEnv).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expectMaskedOnly(run, token);
  }, 240_000);

  it("fails the step with the CLI's one error line when the request is refused", async () => {
    const failed = await runCompositeAction(
      actionPath,
      { profile: "no-such-profile", url: server.url },
      process.env,
    ).catch((error: { code: number; stderr: string }) => error);

    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^cyberark-token: access_denied: /m),
    });
  }, 240_000);

  it("refuses an export-env other than true or false", async () => {
    const failed = await runCompositeAction(
      actionPath,
      { profile: "ci-deployer", url: server.url, "export-env": "yes" },
      process.env,
    ).catch((error: { code: number; stderr: string }) => error);

    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining("export-env") });
  }, 240_000);

  it("runs the README's recipe with its inputs as written (the job's CYBERARK_TOKEN_URL, the local server's here)", async () => {
    const recipe = readmeRecipe("github-action");
    const step = /^( +)- id: (\S+)\n\1 {2}uses: (\S+)\n\1 {2}with:\n((?:\1 {4}.+\n)+)/m.exec(
      recipe,
    );
    const [, , id, uses, withLines] = step ?? [];
    const inputs = Object.fromEntries(
      [...(withLines ?? "").matchAll(/^ +([\w-]+): (.+)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(uses).toMatch(/\/cyberark-token-vending@v\d+$/);
    expect(recipe).toMatch(/^ +CYBERARK_TOKEN_URL: https:\/\//m);

    const run = await runCompositeAction(actionPath, inputs, {
      ...process.env,
      CYBERARK_TOKEN_URL: server.url,
    });

    const token = run.outputs.get("token") ?? "";
    expect(inputs).toEqual({ profile: "ci-deployer", "export-env": "true" });
    expect(run.jobEnv).toEqual(new Map([["CYBERARK_TOKEN", token]]));
    expect(recipe).toContain(`\${{ steps.${id}.outputs.token }}`);
    expectMaskedOnly(run, token);
  }, 240_000);
});
