/**
 * The shape of the core and its adapters (and the common modules they use): no import circle
 * (type-only imports included: a circle of types is still a circle a reader must hold in mind),
 * no core or adapter module over 250 lines (one concern per module), no import chain inside the
 * core deeper than 8 files, no clock-skew constant (no clock orders anything in the protocol),
 * and a ceiling on the core's total size.
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

/** The longest chain of relative imports among `files` (inside them only), as its files. */
function longestChain(files: readonly string[]): string[] {
  const inside = new Set(files);
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((f) => inside.has(f))]));
  const memo = new Map<string, string[]>();
  const longest = (file: string): string[] => {
    const known = memo.get(file);
    if (known) return known;
    memo.set(file, [file]); // a circle (refused above) cannot loop here
    const tails = (graph.get(file) ?? []).map(longest);
    const best = tails.reduce((a, b) => (b.length > a.length ? b : a), [] as string[]);
    const chain = [file, ...best];
    memo.set(file, chain);
    return chain;
  };
  return files.map(longest).reduce((a, b) => (b.length > a.length ? b : a), [] as string[]);
}

const CORE = () => sourcesUnder(join(ROOT, "core"));

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

  it("has no import chain inside the core deeper than 8 files, type-only imports included", () => {
    const chain = longestChain(CORE()).map(relative);
    expect(chain.length, chain.join(" -> ")).toBeLessThanOrEqual(8);
  });

  it("has no clock-skew constant in the core: no clock orders anything in the protocol", () => {
    const skewed = CORE()
      .filter((file) => /\bconst\s+\w*SKEW\w*\s*=/i.test(readFileSync(file, "utf8")))
      .map(relative);
    expect(skewed).toEqual([]);
  });

  it("keeps the core within the size issue 29's rewrite reached (before it: 4,317 lines in 33 files)", () => {
    // Issue 29's target is 2,200 lines; the rewrite reached 4,224 (the protocol core shrank, the
    // profiles configuration, callers and scope ceilings did not move), then the model check's
    // findings added a DELETE that reads the item again after the ledger (deletion.ts,
    // revocation-rule.ts), the guard's bound on the credentials' age, the revocation of an
    // answer that cannot be used, and token writes that outlast lost races. This holds the line
    // where it is until the rest is cut.
    const lines = CORE().reduce(
      (sum, file) => sum + readFileSync(file, "utf8").split("\n").length - 1,
      0,
    );
    expect(lines).toBeLessThanOrEqual(4_450);
  });
});
