/**
 * The workflows keep the publishing rights away from third-party code. In the release workflow
 * only the publishing job holds write permissions, `id-token: write` and the registry token, and
 * it installs, builds and tests nothing: it checks the tarball a read-only job built and tested
 * against its SHA-256 and publishes that file with lifecycle scripts off. The CI workflow runs
 * `.ci/run` on every push and pull request with read-only permissions. Every action is pinned
 * by commit SHA.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// The one way to install Python's tools: the whole tree, by exact version.
const PIP_PINNED = "pip install -r test/requirements.txt -c test/constraints.txt";

const WORKFLOWS = new URL("../../.github/workflows/", import.meta.url);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
  "working-directory"?: string;
}
interface Job {
  needs?: string | string[];
  permissions?: Record<string, string> | string;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown> | string | string[];
  permissions?: Record<string, string> | string;
  jobs: Record<string, Job>;
}

const workflow = (file: string): Workflow =>
  parse(readFileSync(new URL(file, WORKFLOWS), "utf8")) as Workflow;

/** What a step or job runs that installs, builds or tests: package managers and test tools. */
const INSTALLS_OR_TESTS =
  /\b(?:npm\s+(?:ci|install|i|add|test|t|pack|run|run-script|exec|x|rebuild|link)|npx|yarn|pnpm|bun(?:x)?|pip3?|python3?\s+-m\s+pip|uv|poetry|vitest|tsx|node\s+\S+\.(?:m?js|ts))\b|\.ci\/run|\bmake\b/;

/** The rights a job holds: write permissions, an OIDC token, or any secret. */
function rights(workflow: Workflow, job: Job): string[] {
  const held: string[] = [];
  const permissions = job.permissions ?? workflow.permissions;
  if (typeof permissions === "string") {
    if (permissions !== "read-all") held.push(`permissions: ${permissions}`);
  } else {
    for (const [scope, level] of Object.entries(permissions ?? {})) {
      if (level === "write") held.push(`${scope}: write`);
    }
  }
  if (permissions === undefined) held.push("permissions: (the repository's default)");
  for (const secret of JSON.stringify(job).match(/secrets\.[A-Za-z_]+/g) ?? []) held.push(secret);
  return held;
}

/** The problems of a job that holds the rights to publish. */
function publisherProblems(job: Job): string[] {
  const problems: string[] = [];
  const runs = job.steps.map((step) => step.run ?? "");
  runs.forEach((run, index) => {
    for (const command of run.split("\n")) {
      if (INSTALLS_OR_TESTS.test(command) && !/^\s*npm\s+publish\b/.test(command)) {
        problems.push(`step ${index + 1} installs, builds or tests: ${command.trim()}`);
      }
    }
  });
  const allowed = /^actions\/(?:download-artifact|setup-node)@/;
  for (const step of job.steps) {
    if (step.uses && !allowed.test(step.uses)) problems.push(`uses ${step.uses}`);
  }
  const check = runs.findIndex((run) => /\bsha256sum\s+(?:-c|--check)\b/.test(run));
  const publish = runs.findIndex((run) => /^\s*npm\s+publish\b/m.test(run));
  if (check < 0) problems.push("no step checks the tarball's SHA-256 (sha256sum -c)");
  if (publish < 0) problems.push("no step publishes");
  if (publish >= 0 && check > publish) problems.push("publishes before checking the SHA-256");
  const release = runs.findIndex((run) => /\bgh\s+release\s+create\b/.test(run));
  if (release >= 0 && check > release) problems.push("creates the release before checking");
  const command = runs[publish] ?? "";
  for (const flag of ["--ignore-scripts", "--provenance"]) {
    if (!command.includes(flag)) problems.push(`npm publish without ${flag}`);
  }
  if (
    publish >= 0 &&
    !/npm\s+publish\s+"?\.\/\$\{?TARBALL\b|npm\s+publish\s+\S+\.tgz\b/.test(command)
  ) {
    problems.push("npm publish does not name the tarball it checked");
  }
  return problems;
}

/**
 * Where a path of a workflow points: a relative path is under the workspace, `${{ runner.temp }}`
 * is the runner's temporary directory.
 */
function located(path: string | undefined): string {
  const raw = (path ?? ".").replace(/\$\{\{\s*runner\.temp\s*\}\}/g, "/RUNNER_TEMP");
  const absolute = raw.startsWith("/") ? raw : `/WORKSPACE/${raw}`;
  const parts: string[] = [];
  for (const part of absolute.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
// The workflow expression for the runner's temporary directory.
const RUNNER_TEMP = ["$", "{{ runner.temp }}"].join("");
const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);

/**
 * The steps of a publishing job that run npm or gh where the downloaded artifact could reach
 * them. The artifact is whatever the build job (which runs third-party code) chose to upload:
 * npm reads a `.npmrc` from its working directory (or from the directory of a `package.json`
 * above it) and expands `${NODE_AUTH_TOKEN}` in it, so an artifact holding one could send the
 * registry token anywhere; a `.git` there could run commands through git's config. npm and gh
 * must run in a directory outside the artifact's, which receives only the checked files.
 */
function artifactReaches(job: Job): string[] {
  const downloads = job.steps
    .filter((step) => step.uses?.startsWith("actions/download-artifact@"))
    .map((step) => located(step.with?.path as string | undefined));
  return job.steps.flatMap((step, index) => {
    if (!/(^|[\s;&|(])(?:npm|gh)\s/m.test(step.run ?? "")) return [];
    const directory = located(step["working-directory"]);
    return downloads
      .filter((download) => within(directory, download) || within(download, directory))
      .map(
        (download) =>
          `step ${index + 1} runs npm or gh in ${directory}, the artifact's ${download}`,
      );
  });
}

const pinnedBySha = (uses: string) => /^[\w.-]+\/[\w.-]+(?:\/[\w./-]+)?@[0-9a-f]{40}$/.test(uses);

describe("the release workflow", () => {
  const release = workflow("release.yml");
  const jobs = Object.entries(release.jobs);
  const withRights = jobs.filter(([, job]) => rights(release, job).length > 0);

  it("gives no rights at the top: each job says what it holds", () => {
    expect(release.permissions).toEqual({});
  });

  it("has exactly one job with rights, and it holds the publishing rights", () => {
    expect(withRights.map(([name]) => name)).toHaveLength(1);
    const [, publisher] = withRights[0] ?? [];
    expect(publisher?.permissions).toEqual({ contents: "write", "id-token": "write" });
    expect(JSON.stringify(publisher)).toContain("secrets.NPM_TOKEN");
  });

  it("the publishing job installs, builds and tests nothing, checks the SHA-256, publishes that file", () => {
    const [, publisher] = withRights[0] ?? [];
    expect(publisher).toBeDefined();
    expect(publisherProblems(publisher as Job)).toEqual([]);
  });

  it("the job it publishes from is read-only: builds, tests, packs and uploads the tarball with its SHA-256", () => {
    const [publisherName, publisher] = withRights[0] ?? [];
    const needs = [publisher?.needs ?? []].flat();
    expect(needs).toHaveLength(1);
    const builder = release.jobs[needs[0] ?? ""];
    expect(builder, `${publisherName} needs ${needs[0]}`).toBeDefined();
    expect(builder?.permissions).toEqual({ contents: "read" });
    const runs = (builder?.steps ?? []).map((step) => step.run ?? "").join("\n");
    expect(runs).toMatch(/\.ci\/run/);
    expect(runs).toMatch(/\bnpm pack\b/);
    expect(runs).toMatch(/\bsha256sum\b/);
    expect(runs).toContain(PIP_PINNED);
    expect(builder?.steps.some((step) => step.uses?.startsWith("actions/upload-artifact@"))).toBe(
      true,
    );
  });

  it("runs npm and gh where nothing of the artifact but the checked files can reach them (a .npmrc in it would get the registry token)", () => {
    const [, publisher] = withRights[0] ?? [];
    expect(publisher).toBeDefined();
    expect(artifactReaches(publisher as Job)).toEqual([]);
    // The files npm and gh get are copied, by name, out of the artifact's directory.
    const runs = (publisher?.steps ?? []).map((step) => step.run ?? "").join("\n");
    expect(runs).toMatch(/\bcp\b[^\n]*\$\{?TARBALL\b/);
  });

  it("the artifact check catches npm or gh run in the artifact's directory, or above it", () => {
    const download = (path?: string): Step => ({
      uses: `actions/download-artifact@${"a".repeat(40)}`,
      ...(path === undefined ? {} : { with: { path } }),
    });
    const publish = (directory?: string): Step => ({
      run: 'npm publish "./$TARBALL" --provenance --ignore-scripts',
      ...(directory === undefined ? {} : { "working-directory": directory }),
    });
    const caught: Job[] = [
      { steps: [download("release"), publish("release")] },
      { steps: [download("release"), publish("./release/")] },
      { steps: [download(), publish("publish")] },
      { steps: [download("release/inner"), publish("release")] },
      { steps: [download(`${RUNNER_TEMP}/artifact`), publish(RUNNER_TEMP)] },
      {
        steps: [
          download("release"),
          { run: "gh release create v1 x.tgz", "working-directory": "release" },
        ],
      },
    ];
    for (const job of caught) expect(artifactReaches(job), JSON.stringify(job)).not.toEqual([]);
    const kept: Job[] = [
      { steps: [download(`${RUNNER_TEMP}/artifact`), publish("publish")] },
      { steps: [download("release"), publish("publish")] },
    ];
    for (const job of kept) expect(artifactReaches(job), JSON.stringify(job)).toEqual([]);
  });

  it("the check catches a publishing job that installs or tests, or skips the SHA-256", () => {
    const good: Job = {
      steps: [
        { uses: `actions/download-artifact@${"a".repeat(40)}` },
        { run: 'printf "%s  %s\\n" "$SHA256" "$TARBALL" | sha256sum -c -' },
        { run: 'npm publish "./$TARBALL" --provenance --access public --ignore-scripts' },
      ],
    };
    expect(publisherProblems(good)).toEqual([]);
    const variants: Job[] = [
      { steps: [{ run: "npm ci" }, ...good.steps] },
      { steps: [...good.steps, { run: PIP_PINNED }] },
      { steps: [{ run: "npm test" }, ...good.steps] },
      { steps: [{ run: "npm pack" }, ...good.steps] },
      { steps: [{ uses: `actions/checkout@${"b".repeat(40)}` }, ...good.steps] },
      { steps: good.steps.filter((step) => !step.run?.includes("sha256sum")) },
      { steps: [good.steps[0] ?? {}, good.steps[2] ?? {}, good.steps[1] ?? {}] },
      {
        steps: [
          ...good.steps.slice(0, 2),
          { run: 'npm publish "./$TARBALL" --provenance --access public' },
        ],
      },
    ];
    for (const job of variants) expect(publisherProblems(job), JSON.stringify(job)).not.toEqual([]);
  });
});

describe("the CI workflow", () => {
  const ci = workflow("ci.yml");

  it("runs .ci/run on every push and pull request", () => {
    expect(Object.keys(ci.on as Record<string, unknown>).sort()).toEqual(["pull_request", "push"]);
    // Every branch: no filter narrows the events.
    for (const event of Object.values(ci.on as Record<string, unknown>)) {
      expect(event ?? {}).toEqual({});
    }
    const runs = Object.values(ci.jobs).flatMap((job) => job.steps.map((step) => step.run ?? ""));
    expect(runs).toContain("bash .ci/run");
  });

  it("is read-only and holds no secret", () => {
    expect(ci.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(ci.jobs)) {
      expect(rights(ci, job), name).toEqual([]);
      if (job.permissions !== undefined)
        expect(job.permissions, name).toEqual({ contents: "read" });
    }
  });

  it("sets up Node 20 and installs the pinned Python tree before .ci/run", () => {
    const steps = Object.values(ci.jobs).flatMap((job) => job.steps);
    const node = steps.find((step) => step.uses?.startsWith("actions/setup-node@"));
    expect(String(node?.with?.["node-version"])).toBe("20");
    expect(steps.some((step) => step.uses?.startsWith("actions/setup-python@"))).toBe(true);
    const runs = steps.map((step) => step.run ?? "");
    const pip = runs.findIndex((run) => run.endsWith(PIP_PINNED));
    expect(pip).toBeGreaterThanOrEqual(0);
    expect(pip).toBeLessThan(runs.indexOf("bash .ci/run"));
  });
});

describe("every workflow", () => {
  const files = readdirSync(WORKFLOWS).filter((file) => /\.ya?ml$/.test(file));

  it("is the release and the CI workflow", () => {
    expect(files.sort()).toEqual(["ci.yml", "release.yml"]);
  });

  it("pins every action by commit SHA", () => {
    const unpinned = files.flatMap((file) =>
      Object.values(workflow(file).jobs)
        .flatMap((job) => job.steps)
        .flatMap((step) => (step.uses && !pinnedBySha(step.uses) ? [`${file}: ${step.uses}`] : [])),
    );
    expect(unpinned).toEqual([]);
  });
});
