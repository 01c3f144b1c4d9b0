/**
 * The deploy page's offline check of a profiles file works as written from a fresh clone: the
 * command it shows, run with no AWS credentials or region, synthesizes the stack (the example
 * names callers of two accounts, so the command must say which accounts the API admits).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { markedBlock } from "../support/markdown.js";

const run = promisify(execFile);

describe("the deploy page's offline check", () => {
  it("synthesizes the example profiles as written, without AWS credentials", async () => {
    const { file, code } = markedBlock("command", "offline-synth");
    const words = code.trim().split(/\s+/);
    expect(file).toBe("docs/deploy.md");
    expect(words.slice(0, 3)).toEqual(["npx", "cdk", "synth"]);
    const outdir = mkdtempSync(join(tmpdir(), "ctv-offline-synth-"));
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("AWS_")),
    );

    // As written; only where the template goes and how much it prints are added.
    const result = await run("npx", [...words.slice(1), "--quiet", "-o", outdir], {
      env,
      timeout: 120_000,
    }).catch((error: { stderr: string }) => error);

    const errors = ("stderr" in result ? result.stderr : "")
      .split("\n")
      .filter((line) => line.startsWith("error: "));
    expect(errors).toEqual([]);
    expect(existsSync(join(outdir, "CyberArkTokenVending.template.json"))).toBe(true);
  }, 120_000);
});
