/**
 * No file in the repository (README, docs, recipes, help text, workflows, code) runs a registry
 * name through npx with its yes flag (or its cousins), runs a bare `npx <name>` that could fetch whatever
 * the registry holds under that name, or installs a name without an exact version. Whoever
 * registers such a name first would run code in every job that copies the line.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url);
const PACKAGE = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as {
  devDependencies: Record<string, string>;
};

/** The executables this repository's own devDependencies install (what `npx X` finds locally). */
function localBins(): Set<string> {
  const bins = new Set<string>();
  for (const name of Object.keys(PACKAGE.devDependencies)) {
    const manifest = JSON.parse(
      readFileSync(new URL(`node_modules/${name}/package.json`, ROOT), "utf8"),
    ) as { bin?: string | Record<string, string> };
    if (typeof manifest.bin === "string") bins.add(name.split("/").pop() ?? name);
    else for (const bin of Object.keys(manifest.bin ?? {})) bins.add(bin);
  }
  return bins;
}

const RUN_ANYTHING =
  /\b(?:npx|npm\s+(?:exec|x))\s+(?:[^\n]*\s)?(?:--yes|-y)\b|\b(?:pnpm\s+dlx|yarn\s+dlx|bunx)\b/;
const NPX = /\bnpx\s+((?:-{1,2}[\w-]+(?:=\S+)?\s+)*)([@\w][\w@./-]*)/g;
const INSTALL = /\bnpm\s+(?:install|i|add)\b([^\n`"'|;&)]*)/g;
const EXACT = /^(?:@[\w.-]+\/)?[\w.-]+@\d+\.\d+\.\d+(?:-[\w.]+)?$/;

/** The problems of one line, each naming what it runs or installs. */
function unpinnedInstalls(line: string, bins: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (RUN_ANYTHING.test(line)) problems.push("runs a registry package without asking (--yes, dlx)");
  for (const [, flags = "", name = ""] of line.matchAll(NPX)) {
    if (/(?:^|\s)--no(?:\s|$)/.test(flags) || bins.has(name)) continue;
    problems.push(`npx ${name}: not installed by this repository, so npx would fetch it`);
  }
  for (const [, rest = ""] of line.matchAll(INSTALL)) {
    const names = rest
      .trim()
      .split(/\s+/)
      .filter((word) => word !== "" && !word.startsWith("-"));
    for (const name of names) {
      // A local tarball or folder is checked before it is installed (SHA-256, see README).
      if (/^(?:\.{0,2}\/|file:)|\.tgz$|^\$/.test(name) || EXACT.test(name)) continue;
      problems.push(`npm install ${name}: no exact version`);
    }
  }
  return problems;
}

describe("installs in the repository", () => {
  const bins = localBins();

  it("the rule catches what it is for, and lets the local tools and pinned installs through", () => {
    // Spelled in two parts so that this file is not itself a recipe that runs npx with --yes.
    const yes = ["--", "yes"].join("");
    const caught = [
      `npx ${yes} cyberark-token-vending@0.1.0 get ci-deployer`,
      `npx ${yes.slice(1, 3)} some-tool`,
      "npx cyberark-token get ci-deployer",
      "npm exec --yes -- cyberark-token",
      "pnpm dlx cyberark-token",
      "npm install cyberark-token-vending",
      "npm i @cyberark-token-vending/aws@^0.1.0",
    ];
    const passed = [
      "npx cdk deploy -c profiles=profiles.json",
      "npx tsx infra/app.ts",
      "npx --no cyberark-token get ci-deployer",
      "npm install --save-exact @cyberark-token-vending/aws@0.1.0",
      "npm install --save-exact ./cyberark-token-vending-aws-0.1.0.tgz",
      "npm ci --prefix tools/cyberark-token",
      "npm install",
    ];
    for (const line of caught) expect(unpinnedInstalls(line, bins), line).not.toEqual([]);
    for (const line of passed) expect(unpinnedInstalls(line, bins), line).toEqual([]);
  });

  it("no tracked file runs npx with --yes, a bare npx of a package it does not install, or an unpinned install", () => {
    const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((file) => file && !/(^|\/)package-lock\.json$|^LICENSE$/.test(file))
      // This test's own examples of what is refused.
      .filter((file) => file !== "test/unit/pinned-installs.test.ts");
    expect(files.length).toBeGreaterThan(100);

    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(new URL(file, ROOT), "utf8");
      text.split("\n").forEach((line, index) => {
        for (const problem of unpinnedInstalls(line, bins))
          found.push(`${file}:${index + 1}: ${problem}`);
      });
    }
    expect(found).toEqual([]);
  });
});
