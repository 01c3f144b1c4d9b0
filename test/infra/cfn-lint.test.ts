import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { STACK_VARIANTS, synthesizeStack } from "../support/stack.js";

const run = promisify(execFile);

describe("cfn-lint", () => {
  it.each(STACK_VARIANTS)(
    "reports no error or warning on the template (%s; W3005 ignored)",
    async (_, props, extend) => {
      const { outdir } = synthesizeStack(props, extend);
      const templates = readdirSync(outdir).filter((file) => file.endsWith(".template.json"));
      expect(templates).toHaveLength(1);

      const result = await run("cfn-lint", [
        "--ignore-checks",
        "W3005",
        "--",
        ...templates.map((t) => join(outdir, t)),
      ])
        .then(() => ({ code: 0, stdout: "" }))
        .catch((error: NodeJS.ErrnoException & { stdout?: string }) => {
          if (error.code === "ENOENT")
            throw new Error(
              "cfn-lint is required: pip install -r test/requirements.txt -c test/constraints.txt",
            );
          return { code: Number(error.code), stdout: error.stdout ?? "" };
        });

      expect(result.stdout).toBe("");
      expect(result.code).toBe(0);
    },
  );
});
