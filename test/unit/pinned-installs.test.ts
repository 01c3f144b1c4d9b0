/**
 * No file in the repository (README, docs, recipes, help text, workflows, code) runs a registry
 * name through npx with its yes flag (or its cousins), runs a bare `npx <name>` that could fetch whatever
 * the registry holds under that name, or installs a name without an exact version. Whoever
 * registers such a name first would run code in every job that copies the line.
 *
 * Python's tools likewise: every `pip install` installs test/requirements.txt under
 * test/constraints.txt, which pins the whole tree (each package `name==version`), and every
 * requirement has its exact pin there.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
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

const PIP_INSTALL = /\b(?:pip3?|python3?\s+-m\s+pip)\s+install\b([^\n`"'|;&()]*)/g;
const PINNED_TREE = ["-r", "test/requirements.txt", "-c", "test/constraints.txt"];

/** The problems of one line's `pip install`s: each must install the pinned tree and nothing else. */
function unpinnedPipInstalls(line: string): string[] {
  const problems: string[] = [];
  for (const [, rest = ""] of line.matchAll(PIP_INSTALL)) {
    const words = rest.trim().split(/\s+/).filter(Boolean);
    const pairs = new Map<string, string>();
    const others: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i] ?? "";
      if ((word === "-r" || word === "-c") && words[i + 1] !== undefined) {
        pairs.set(word, words[++i] ?? "");
      } else if (!/^--[a-z-]+$/.test(word)) {
        others.push(word);
      }
    }
    if (
      pairs.get("-r") !== PINNED_TREE[1] ||
      pairs.get("-c") !== PINNED_TREE[3] ||
      others.length > 0
    )
      problems.push(`pip install${rest.trimEnd()}: not "pip install ${PINNED_TREE.join(" ")}"`);
  }
  return problems;
}

/** The tracked files, but the lockfile, the licence and this test (its examples are refused). */
function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((file) => file && !/(^|\/)package-lock\.json$|^LICENSE$/.test(file))
    .filter((file) => file !== "test/unit/pinned-installs.test.ts")
    .filter((file) => existsSync(new URL(file, ROOT)));
}

/** `file:line: problem` for every line of the files the rule refuses. */
function findProblems(files: string[], rule: (line: string) => string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    readFileSync(new URL(file, ROOT), "utf8")
      .split("\n")
      .forEach((line, index) => {
        for (const problem of rule(line)) found.push(`${file}:${index + 1}: ${problem}`);
      });
  }
  return found;
}

const isDocumentation = (file: string) => file === "README.md" || file.startsWith("docs/");

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
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(100);
    expect(findProblems(files, (line) => unpinnedInstalls(line, bins))).toEqual([]);
  });
});

describe("Python installs", () => {
  const requirementsFile = readFileSync(new URL("test/requirements.txt", ROOT), "utf8");
  const constraintsFile = readFileSync(new URL("test/constraints.txt", ROOT), "utf8");
  const lines = (text: string) =>
    text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
  const canonical = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

  it("the rule catches what it is for, and lets the pinned tree through", () => {
    const caught = [
      'pip install "moto[server]"',
      "pip install cfn-lint",
      "pip install -r test/requirements.txt",
      "python -m pip install -r test/requirements.txt moto",
      "pip3 install -r test/requirements.txt -c other.txt",
      "`pip install -c test/constraints.txt moto==5.2.1`",
    ];
    const passed = [
      "python -m pip install -r test/requirements.txt -c test/constraints.txt",
      "pip install -r test/requirements.txt -c test/constraints.txt (or run npm run test:unit)",
      "`pip install --quiet -c test/constraints.txt -r test/requirements.txt`",
    ];
    for (const line of caught) expect(unpinnedPipInstalls(line), line).not.toEqual([]);
    for (const line of passed) expect(unpinnedPipInstalls(line), line).toEqual([]);
  });

  it("every constraint is name==version, once per package", () => {
    const constraints = lines(constraintsFile);
    expect(constraints.length).toBeGreaterThan(2);
    const bad = constraints.filter(
      (line) => !/^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+$/.test(line),
    );
    expect(bad).toEqual([]);
    const names = constraints.map((line) => canonical(line.split("==")[0] ?? ""));
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
  });

  it("every requirement has its exact pin in the constraints", () => {
    const pins = new Map(
      lines(constraintsFile).map((line) => {
        const [name = "", version = ""] = line.split("==");
        return [canonical(name), version];
      }),
    );
    const requirements = lines(requirementsFile);
    expect(requirements.length).toBeGreaterThan(0);
    for (const requirement of requirements) {
      const match = /^([A-Za-z0-9._-]+)(?:\[[\w,-]+\])?==([\w.+!-]+)$/.exec(requirement);
      expect(match, `${requirement}: name==version`).not.toBeNull();
      expect(pins.get(canonical(match?.[1] ?? "")), requirement).toBe(match?.[2]);
    }
  });

  it("no workflow, script, message or code installs with pip but the pinned tree", () => {
    const files = trackedFiles().filter((file) => !isDocumentation(file));
    expect(files.length).toBeGreaterThan(100);
    expect(files).toEqual(expect.arrayContaining([".ci/run", "test/support/global-setup.ts"]));
    expect(findProblems(files, unpinnedPipInstalls)).toEqual([]);
  });

  it("the README and docs/ install with pip only the pinned tree", () => {
    const files = trackedFiles().filter(isDocumentation);
    expect(files).toContain("README.md");
    expect(findProblems(files, unpinnedPipInstalls)).toEqual([]);
  });
});
