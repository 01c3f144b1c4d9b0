/**
 * The construct example shown in docs/construct.md is the file in examples/ that the package
 * consumers' test synthesizes from the packed package, with the `reports/` folder its function's
 * code comes from, which the page tells the reader to create.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { markedBlock } from "../support/markdown.js";

describe("the construct example", () => {
  const shown = markedBlock("example", "construct");

  it("is shown on the construct page exactly as examples/construct/bin/platform.ts holds it", () => {
    expect(shown.file).toBe("docs/construct.md");
    expect(shown.code).toBe(readFileSync("examples/construct/bin/platform.ts", "utf8"));
  });

  it("has the reports/ handler its function packages, and the page says to create one", () => {
    expect(shown.code).toContain('lambda.Code.fromAsset("reports")');
    expect(existsSync("examples/construct/reports/index.js")).toBe(true);
    expect(readFileSync("docs/construct.md", "utf8")).toMatch(/folder `reports\/` beside `bin\/`/);
  });
});
