/**
 * Just enough of a GitHub Actions runner to run this repository's composite action and the
 * README's recipes as a runner would: the file commands ($GITHUB_OUTPUT, $GITHUB_ENV) parsed with
 * the runner's rules, `${{ inputs.* }}` and `${{ steps.*.outputs.* }}` expressions, and
 * `shell: bash` run as `bash --noprofile --norc -eo pipefail`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

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

/** One step of a composite action. */
export interface ActionStep {
  readonly name?: string;
  readonly id?: string;
  readonly shell?: string;
  readonly run?: string;
  readonly env?: Record<string, string>;
}

/** The parts of action.yml the runner uses. */
export interface CompositeAction {
  readonly inputs: Record<string, { required?: string; default?: string }>;
  readonly outputs: Record<string, { value?: string }>;
  readonly runs: { using?: string; steps: ActionStep[] };
}

/**
 * Reads an action.yml of the simple shape this repository keeps: nested maps and a list of
 * maps, one scalar per line, comments. Anything richer fails loudly rather than being misread.
 */
export function readCompositeAction(text: string): CompositeAction {
  const root: Record<string, unknown> = {};
  // Each open container with the indentation of its keys (-1: not known yet).
  const stack: { indent: number; node: Record<string, unknown> | unknown[] }[] = [
    { indent: 0, node: root },
  ];
  for (const raw of text.split("\n")) {
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const indent = raw.length - raw.trimStart().length;
    let line = raw.trim();
    while ((stack.at(-1)?.indent ?? 0) > indent) stack.pop();
    let top = stack.at(-1);
    if (!top) throw new Error(`action.yml: bad indentation: ${raw}`);
    if (top.indent === -1) top.indent = indent;
    if (line.startsWith("- ")) {
      if (!Array.isArray(top.node)) throw new Error(`action.yml: unexpected list item: ${raw}`);
      const item: Record<string, unknown> = {};
      top.node.push(item);
      stack.push({ indent: indent + 2, node: item });
      top = stack.at(-1);
      line = line.slice(2);
    }
    const match = /^([\w-]+):(?: (.*))?$/.exec(line);
    if (!match || !top || Array.isArray(top.node))
      throw new Error(`action.yml: cannot read: ${raw}`);
    const [, key = "", value] = match;
    if (value === undefined) {
      const child: Record<string, unknown> | unknown[] = key === "steps" ? [] : {};
      top.node[key] = child;
      stack.push({ indent: -1, node: child });
    } else {
      top.node[key] = scalar(value, raw);
    }
  }
  return root as unknown as CompositeAction;
}

function scalar(value: string, raw: string): string {
  if (/^"(?:[^"\\]|\\.)*"$/.test(value)) return JSON.parse(value) as string;
  if (/^'.*'$/.test(value)) return value.slice(1, -1).replaceAll("''", "'");
  if (/^[|>&*!%@`]/.test(value) || / #/.test(value)) {
    throw new Error(`action.yml: keep scalars plain: ${raw}`);
  }
  return value;
}

/** What a run of the action left: its outputs, the job environment it added, the step logs. */
export interface ActionRun {
  readonly outputs: Map<string, string>;
  readonly jobEnv: Map<string, string>;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the composite action in `actionPath` with these inputs, as a runner would, in `env`
 * (GITHUB_ACTIONS=true added). A failing step rejects with its exit code and output.
 */
export async function runCompositeAction(
  actionPath: string,
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<ActionRun> {
  const action = readCompositeAction(readFileSync(join(actionPath, "action.yml"), "utf8"));
  if (action.runs.using !== "composite") throw new Error("not a composite action");
  const values: Record<string, string> = {};
  for (const [name, input] of Object.entries(action.inputs)) {
    const value = inputs[name] ?? input.default ?? "";
    if (input.required === "true" && value === "") throw new Error(`input ${name} is required`);
    values[name] = value;
  }
  const files = mkdtempSync(join(tmpdir(), "ctv-runner-"));
  const envFile = join(files, "env");
  writeFileSync(envFile, "");
  const stepOutputs: Record<string, Map<string, string>> = {};
  const expand = (text: string) =>
    text.replace(/\$\{\{\s*([\w.-]+)\s*\}\}/g, (_, path: string) => {
      const [scope, name, kind, output] = path.split(".");
      if (scope === "inputs" && name !== undefined) return values[name] ?? "";
      if (scope === "steps" && name && kind === "outputs" && output) {
        return stepOutputs[name]?.get(output) ?? "";
      }
      throw new Error(`unsupported expression ${path}`);
    });
  let stdout = "";
  let stderr = "";
  for (const [index, step] of action.runs.steps.entries()) {
    if (step.shell !== "bash" || !step.run) throw new Error(`step ${index}: not a bash run step`);
    const outputFile = join(files, `output-${index}`);
    writeFileSync(outputFile, "");
    const stepEnv: NodeJS.ProcessEnv = {
      ...env,
      ...Object.fromEntries(parseFileCommands(readFileSync(envFile, "utf8"))),
      ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(v)])),
      GITHUB_ACTIONS: "true",
      GITHUB_ACTION_PATH: actionPath,
      GITHUB_OUTPUT: outputFile,
      GITHUB_ENV: envFile,
    };
    const result = await run(
      "bash",
      ["--noprofile", "--norc", "-eo", "pipefail", "-c", expand(step.run)],
      { env: stepEnv, cwd: files },
    );
    stdout += result.stdout;
    stderr += result.stderr;
    if (step.id) stepOutputs[step.id] = parseFileCommands(readFileSync(outputFile, "utf8"));
  }
  const outputs = new Map(
    Object.entries(action.outputs).map(([name, output]) => [name, expand(output.value ?? "")]),
  );
  return { outputs, jobEnv: parseFileCommands(readFileSync(envFile, "utf8")), stdout, stderr };
}
