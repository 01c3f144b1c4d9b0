/**
 * The GitHub Action runs a committed bundle of the CLI, not the source: it must be exactly what
 * the source and the locked dependencies build, or the action would run other code than the
 * release holds.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACTION_BUNDLE, buildActionBundle } from "../../infra/build-action.js";

describe("the GitHub Action's CLI bundle", () => {
  it("is what `npm run build:action` builds from this source (run it and commit the result if not)", async () => {
    const committed = readFileSync(ACTION_BUNDLE, "utf8");

    const built = await buildActionBundle();

    // Compared without printing some 380 KB of minified code when they differ.
    expect(committed.length).toBe(built.length);
    expect(committed === built).toBe(true);
  });
});
