/**
 * Just enough of a GitHub Actions runner to run this repository's JavaScript action and the
 * README's recipes as a runner would: a `node24` action's `main` run with `INPUT_*` variables (the
 * runner's names: upper case, hyphens kept) and the action's defaults, the file commands
 * ($GITHUB_OUTPUT, $GITHUB_ENV) parsed with the runner's rules, and the workflow commands it
 * writes to stdout (`::add-mask::`, `::error::`) picked out.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Parses a file command file ($GITHUB_ENV, $GITHUB_OUTPUT) as the runner does: `NAME=value`
 * lines (split at the first `=` when it comes before any `<<`) and `NAME<<DELIMITER` heredocs.
 * @throws {Error} on a line the runner rejects; the runner then prints that line in the job log.
 */
export function parseFileCommands(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] ?? "";
    if (line === "") continue;
    const equals = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (equals > 0 && (heredoc < 0 || equals < heredoc)) {
      entries.set(line.slice(0, equals), line.slice(equals + 1));
    } else if (heredoc > 0) {
      const delimiter = line.slice(heredoc + 2);
      const value: string[] = [];
      for (index += 1; lines[index] !== delimiter; index += 1) {
        if (index >= lines.length) throw new Error(`Matching delimiter not found '${delimiter}'`);
        value.push(lines[index] ?? "");
      }
      entries.set(line.slice(0, heredoc), value.join("\n"));
    } else {
      throw new Error(`Invalid format '${line}'`);
    }
  }
  return entries;
}

/** The parts of action.yml the runner uses for a JavaScript action. */
export interface NodeAction {
  readonly inputs: Record<string, { required?: string; default?: string }>;
  readonly outputs: Record<string, { description?: string }>;
  readonly runs: { using?: string; main?: string };
}

/**
 * Reads an action.yml of the simple shape this repository keeps: nested maps, one scalar per
 * line, comments. Anything richer fails loudly rather than being misread.
 */
export function readActionYaml(text: string): NodeAction {
  const root: Record<string, unknown> = {};
  // Each open map with the indentation of its keys (-1: not known yet).
  const stack: { indent: number; node: Record<string, unknown> }[] = [{ indent: 0, node: root }];
  for (const raw of text.split("\n")) {
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const indent = raw.length - raw.trimStart().length;
    while ((stack.at(-1)?.indent ?? 0) > indent) stack.pop();
    const top = stack.at(-1);
    if (!top) throw new Error(`action.yml: bad indentation: ${raw}`);
    if (top.indent === -1) top.indent = indent;
    const match = /^([\w-]+):(?: (.*))?$/.exec(raw.trim());
    if (!match) throw new Error(`action.yml: cannot read: ${raw}`);
    const [, key = "", value] = match;
    if (value === undefined) {
      const child: Record<string, unknown> = {};
      top.node[key] = child;
      stack.push({ indent: -1, node: child });
    } else {
      top.node[key] = scalar(value, raw);
    }
  }
  return root as unknown as NodeAction;
}

function scalar(value: string, raw: string): string {
  if (/^"(?:[^"\\]|\\.)*"$/.test(value)) return JSON.parse(value) as string;
  if (/^'.*'$/.test(value)) return value.slice(1, -1).replaceAll("''", "'");
  if (/^[|>&*!%@`]/.test(value) || / #/.test(value)) {
    throw new Error(`action.yml: keep scalars plain: ${raw}`);
  }
  return value;
}

/** What a run of the action left: its exit code, outputs, job environment, logs and commands. */
export interface ActionRun {
  readonly code: number;
  readonly outputs: Map<string, string>;
  readonly jobEnv: Map<string, string>;
  readonly stdout: string;
  readonly stderr: string;
  /** The values of `::add-mask::` lines, in order. */
  readonly masks: string[];
  /** The messages of `::error::` lines (unescaped), in order. */
  readonly errors: string[];
}

/**
 * Runs the JavaScript action in `actionPath` with these inputs, as a runner runs a `node24`
 * action: `node <main>` with the job's `env`, `INPUT_*` for every declared input (given, else its
 * default), GITHUB_ACTIONS=true, and fresh GITHUB_OUTPUT and GITHUB_ENV files; in a workspace of
 * its own. The Node.js is this one (the runner's would be 24).
 */
export async function runNodeAction(
  actionPath: string,
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<ActionRun> {
  const action = readActionYaml(readFileSync(join(actionPath, "action.yml"), "utf8"));
  if (action.runs.using !== "node24" || !action.runs.main) {
    throw new Error("not a node24 JavaScript action");
  }
  const workspace = mkdtempSync(join(tmpdir(), "ctv-runner-"));
  const outputFile = join(workspace, "github-output");
  const envFile = join(workspace, "github-env");
  writeFileSync(outputFile, "");
  writeFileSync(envFile, "");
  const inputEnv = Object.fromEntries(
    Object.entries(action.inputs).map(([name, input]) => [
      `INPUT_${name.replaceAll(" ", "_").toUpperCase()}`,
      inputs[name] ?? input.default ?? "",
    ]),
  );
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [join(actionPath, action.runs.main ?? "")],
      {
        cwd: workspace,
        env: {
          ...env,
          ...inputEnv,
          GITHUB_ACTIONS: "true",
          GITHUB_ACTION_PATH: actionPath,
          GITHUB_WORKSPACE: workspace,
          GITHUB_OUTPUT: outputFile,
          GITHUB_ENV: envFile,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
  const commands = (name: string) =>
    [...result.stdout.matchAll(new RegExp(`^::${name}(?: [^:]*)?::(.*)$`, "gm"))].map((m) =>
      unescapeData(m[1] ?? ""),
    );
  return {
    ...result,
    outputs: parseFileCommands(readFileSync(outputFile, "utf8")),
    jobEnv: parseFileCommands(readFileSync(envFile, "utf8")),
    masks: commands("add-mask"),
    errors: commands("error"),
  };
}

function unescapeData(value: string): string {
  return value.replaceAll("%0D", "\r").replaceAll("%0A", "\n").replaceAll("%25", "%");
}
