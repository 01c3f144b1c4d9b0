/**
 * Statements of fact in the README, held to what the code does: the function bundle's size, the
 * stack's outputs, the dashboard's name, and the one environment variable callers read the URL
 * from.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { functionBuildOptions } from "../../infra/build-function.js";
import { synthesizeStack } from "../support/stack.js";

const README = readFileSync("README.md", "utf8");
const { template } = synthesizeStack();

describe("README facts", () => {
  it("states the function bundle's size within 10%", async () => {
    const stated = Number(/The bundle is about (\d+) KB/.exec(README)?.[1]);
    const outfile = join(mkdtempSync(join(tmpdir(), "ctv-size-")), "index.mjs");
    await build(functionBuildOptions(outfile));
    const actual = statSync(outfile).size / 1024;
    expect(Math.abs(actual - stated) / actual).toBeLessThan(0.1);
  });

  it("names exactly the stack's outputs, and counts them right", () => {
    const sentence = /prints (\w+) outputs: ([\s\S]*?)\. Find them/.exec(README);
    const named = [...(sentence?.[2] ?? "").matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
    const outputs = Object.keys(template.toJSON().Outputs).sort();
    expect(named.sort()).toEqual(outputs);
    expect(sentence?.[1]).toBe(["zero", "one", "two", "three", "four"][outputs.length]);
  });

  it("gives the dashboard's name as it is deployed", () => {
    const [dashboard] = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    const name = dashboard?.Properties.DashboardName;
    expect(README).toContain(`named after the deployment: \`${name}\` for this stack`);
  });

  it("reads the API URL from one environment variable everywhere, the one the CLI reads", () => {
    const variables = new Set(README.match(/\b[A-Z][A-Z_]*_URL\b/g));
    variables.delete("AWS_ENDPOINT_URL");
    expect([...variables]).toEqual(["CYBERARK_TOKEN_URL"]);
    expect(readFileSync("functions/client/cli-args.ts", "utf8")).toContain(
      "env.CYBERARK_TOKEN_URL",
    );
  });
});
