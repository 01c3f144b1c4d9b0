/**
 * The project layout in docs/development.md names files that exist: every file or folder it
 * lists (in the name column, and every file its descriptions name), resolved against the folder
 * it is listed under, is in the working tree. A file deleted or renamed without the layout
 * following fails here, so the layout cannot go stale again.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { section } from "../support/markdown.js";

/** The working tree as the check sees it (a test passes a small one). */
interface Tree {
  exists(path: string): boolean;
  list(folder: string): string[];
}

const workingTree: Tree = { exists: existsSync, list: (folder) => readdirSync(folder) };

/** The paths the layout names that are not in `tree`, each resolved in its folder. */
function missingLayoutPaths(layout: string, tree: Tree = workingTree): string[] {
  const missing: string[] = [];
  const folders: { indent: number; path: string }[] = [];
  const check = (path: string) => {
    const bare = path.replace(/\/$/, "");
    if (!(bare.includes("*") ? globExists(bare, tree) : tree.exists(bare))) missing.push(bare);
  };
  let current = "";
  for (const line of layout.split("\n")) {
    if (line.trim() === "") continue;
    const indent = line.length - line.trimStart().length;
    const [, names = "", description = ""] =
      /^ *([^\s,]+(?:, [^\s,]+)*)(?:\s+(.*))?$/.exec(line) ?? [];
    // A wrapped description: its names resolve in the folder of the entry it continues.
    const continued = indent > (folders.at(-1)?.indent ?? -1) + 6;
    if (!continued) {
      while (folders.length > 0 && (folders.at(-1)?.indent ?? 0) >= indent) folders.pop();
      const parent = folders.at(-1)?.path ?? "";
      for (const name of names.split(/, +/)) {
        const path = join(parent, name);
        check(path);
        if (name.endsWith("/")) folders.push({ indent, path });
      }
      current = names.endsWith("/") ? join(parent, names) : parent;
    }
    const text = continued ? line : description;
    for (const [name] of text.matchAll(/[\w*][\w.*/-]*\.(?:ts|mjs|txt|json|md)\b/g)) {
      // A name with a folder is from the repository's root.
      check(name.includes("/") ? name : join(current, name));
    }
  }
  return missing;
}

function globExists(path: string, tree: Tree): boolean {
  const folder = dirname(path);
  if (!tree.exists(folder)) return false;
  const pattern = new RegExp(
    `^${path
      .slice(folder.length + 1)
      .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")}$`,
  );
  return tree.list(folder).some((entry) => pattern.test(entry));
}

function layoutBlock(): string {
  const text = section("docs/development.md", "Project layout");
  const block = /```\n([\s\S]*?)```/.exec(text)?.[1];
  if (block === undefined) throw new Error("docs/development.md: no layout block");
  return block;
}

describe("docs/development.md's project layout", () => {
  it("finds a listed file that does not exist, in its folder or named in a description", () => {
    const tree = new Set(["a", "a/b.ts", "a/c", "a/c/d.ts", "a/c/sim-x.ts", "e.ts"]);
    const layout = [
      "a/           the a folder",
      "  b.ts       a file; gone.ts, mentioned",
      "  c/         a sub folder",
      "    d.ts, old.ts   two files",
      "    sim-*.ts       a glob",
      "                   wrapped: sim-*.ts and missing.ts",
      "e.ts         at the root",
      "",
    ].join("\n");
    const fake: Tree = {
      exists: (path) => tree.has(path),
      list: (folder) =>
        [...tree]
          .filter((path) => dirname(path) === folder)
          .map((path) => path.slice(folder.length + 1)),
    };
    expect(missingLayoutPaths(layout, fake)).toEqual(["a/gone.ts", "a/c/old.ts", "a/c/missing.ts"]);
  });

  it("lists only files and folders that exist", () => {
    const block = layoutBlock();
    expect(block).toContain("profile-record.ts");
    expect(missingLayoutPaths(block)).toEqual([]);
  });
});
