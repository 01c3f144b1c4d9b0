/**
 * Statements of fact in the README and docs/, held to what the code does: the function bundle's
 * size, the stack's outputs, the dashboard's name, the one environment variable callers read the
 * URL from, the function's table grant, and what a DELETE revokes.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { functionBuildOptions } from "../../infra/build-function.js";
import { allDocs, section } from "../support/markdown.js";
import { synthesizeStack } from "../support/stack.js";

const DEPLOY = readFileSync("docs/deploy.md", "utf8");

/**
 * A deployment name as the docs write it: a plain string as it is, a `Fn::Join` of strings and
 * the stack's region as `<region>`. Anything else is not a name the docs can state, and fails.
 */
function renderName(raw: unknown): string {
  if (typeof raw === "string") return raw;
  const join = (raw as { "Fn::Join"?: unknown } | undefined)?.["Fn::Join"];
  if (!Array.isArray(join) || join[0] !== "" || !Array.isArray(join[1])) {
    throw new Error(`not a name the docs can state: ${JSON.stringify(raw)}`);
  }
  return join[1]
    .map((part: unknown) => {
      if (typeof part === "string") return part;
      if ((part as { Ref?: unknown }).Ref === "AWS::Region") return "<region>";
      throw new Error(`not a part the docs can state: ${JSON.stringify(part)}`);
    })
    .join("");
}
const { template } = synthesizeStack();

describe("README and docs facts", () => {
  it("states the function bundle's size within 10%", async () => {
    const stated = Number(/The bundle is about (\d+) KB/.exec(DEPLOY)?.[1]);
    const outfile = join(mkdtempSync(join(tmpdir(), "ctv-size-")), "index.mjs");
    await build(functionBuildOptions(outfile));
    const actual = statSync(outfile).size / 1024;
    expect(Math.abs(actual - stated) / actual).toBeLessThan(0.1);
  });

  it("names exactly the stack's outputs, and counts them right", () => {
    const sentence = /prints (\w+) outputs: ([\s\S]*?)\. Find them/.exec(DEPLOY);
    const named = [...(sentence?.[2] ?? "").matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
    const outputs = Object.keys(template.toJSON().Outputs).sort();
    expect(named.sort()).toEqual(outputs);
    expect(sentence?.[1]).toBe(["zero", "one", "two", "three", "four"][outputs.length]);
  });

  it("gives the dashboard's name as it is deployed", () => {
    const [dashboard] = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    const name = renderName(dashboard?.Properties.DashboardName);
    expect(readFileSync("docs/operations.md", "utf8")).toContain(
      `named after the deployment: \`${name}\` for this stack`,
    );
  });

  it("reads the API URL from one environment variable everywhere, the one the CLI reads", () => {
    const variables = new Set(allDocs().match(/\b[A-Z][A-Z_]*_URL\b/g));
    variables.delete("AWS_ENDPOINT_URL");
    expect([...variables]).toEqual(["CYBERARK_TOKEN_URL"]);
    expect(readFileSync("functions/client/cli-args.ts", "utf8")).toContain(
      "env.CYBERARK_TOKEN_URL",
    );
  });

  it("lists the function's DynamoDB actions on the token table exactly as the template grants them", () => {
    const sentence =
      /call exactly the DynamoDB actions the code uses on the token table\s+\(([^;]*);/.exec(
        DEPLOY,
      );
    const stated = [...(sentence?.[1] ?? "").matchAll(/`(dynamodb:\w+)`/g)].map((m) => m[1]);
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^VendFunctionRole") }] },
    });
    const granted = Object.values(policies)
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: unknown }[])
      .flatMap((statement) => [statement.Action].flat() as string[])
      .filter((action) => action.startsWith("dynamodb:"));
    expect(stated.length).toBeGreaterThan(0);
    expect([...stated].sort()).toEqual([...new Set(granted)].sort());
  });

  it("gives each front door's cost per million vends as the front-doors page's arithmetic totals it", () => {
    const page = readFileSync("docs/front-doors-and-cost.md", "utf8");
    const totals = /^\| \*\*total\*\* \| \| \*\*\$([\d.]+)\*\* \| \*\*\$([\d.]+)\*\* \|$/m
      .exec(page)
      ?.slice(1)
      .map(Number);
    const readme = /^\| cost per million vends[^|]*\| about \$([\d.]+) \| about \$([\d.]+) \|$/m
      .exec(readFileSync("README.md", "utf8"))
      ?.slice(1)
      .map(Number);
    const lines = page
      .split("\n")
      .filter((line) => /^\| [^|*]+ \| [^|]+ \| \$[\d.]+ \| \$[\d.]+ \|$/.test(line))
      .map((line) =>
        line
          .split(" | ")
          .slice(-2)
          .map((cell) => Number(cell.replace(/[$ |]/g, ""))),
      );
    const summed = [0, 1].map((door) => lines.reduce((sum, line) => sum + (line[door] ?? 0), 0));

    expect(totals).toHaveLength(2);
    expect(summed.map((sum) => sum.toFixed(4))).toEqual(totals?.map((total) => total.toFixed(4)));
    expect(readme).toEqual(totals?.map((total) => Number(total.toFixed(2))));
  });

  it("says alike wherever it says it that a DELETE revokes tokens a renewal replaced", () => {
    const guards = section("docs/threat-model.md", "What each guard does and does not stop");
    const row = guards.split("\n").find((line) => line.startsWith("| revocation on `DELETE` |"));
    const [, stops = "", doesNotStop = ""] = (row ?? "").split(" | ");
    expect(stops).toMatch(/a renewal replaced/);
    expect(doesNotStop).not.toMatch(/renewal/);
    expect(readFileSync("docs/http-api.md", "utf8")).toContain("(renewals' predecessors included)");
    expect(section("docs/caching.md", "The ledger of issued tokens")).toContain(
      "a `DELETE` revokes all of them",
    );
  });
});
