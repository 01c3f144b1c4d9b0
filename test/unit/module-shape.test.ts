/**
 * The shape of the core and its adapters (and the common modules they use): no import circle (type-only imports included: a circle
 * of types is still a circle a reader must hold in mind), and no core or adapter module over 250
 * lines (one concern per module).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../functions");
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms;

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((match) =>
    resolve(dirname(file), (match[1] ?? "").replace(/\.js$/, ".ts")),
  );
}

/** Every circle of relative imports, each as the files on it. */
function circles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (file: string, path: string[]) => {
    const at = path.indexOf(file);
    if (at >= 0) {
      found.push(path.slice(at).concat(file));
      return;
    }
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of files) visit(file, []);
  return found;
}

const relative = (file: string) => file.slice(ROOT.length + 1);

describe("module shape", () => {
  it("has no import circle in the core and its adapters, type-only imports included", () => {
    const files = ["core", "adapters", "common"].flatMap((dir) => sourcesUnder(join(ROOT, dir)));
    const found = circles(files).map((circle) => circle.map(relative).join(" -> "));
    expect(found).toEqual([]);
  });

  it("keeps every core and adapter module within 250 lines", () => {
    const files = [...sourcesUnder(join(ROOT, "core")), ...sourcesUnder(join(ROOT, "adapters"))];
    const long = files
      .map((file) => ({
        file: relative(file),
        lines: readFileSync(file, "utf8").split("\n").length - 1,
      }))
      .filter(({ lines }) => lines > 250);
    expect(long).toEqual([]);
  });
});
