/**
 * Builds the published package into `dist/` (run by `npm run build`, and so by `npm pack`):
 *
 * - `dist/client/` and `dist/cdk/`: each entry point bundled twice by esbuild, as ESM (`.js`)
 *   and CommonJS (`.cjs`), with every package left as an import, so a consumer's `import` and
 *   `require` both work and share the consumer's copies of aws-cdk-lib, constructs and the SDK;
 * - `dist/types/` (ESM) and `dist/types-cjs/` (CommonJS): the same declarations twice, since
 *   TypeScript reads a `.d.ts` as the module format of the folder it is in;
 * - `dist/function/index.mjs`: the prebuilt function bundle, so a consumer's synth needs neither
 *   esbuild nor Docker.
 *
 * esbuild rather than a second `tsc` output: the construct finds its prebuilt bundle with
 * `import.meta.url`, which a CommonJS `tsc` build cannot compile, and esbuild is already the tool
 * that builds the function and the Action.
 */
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";
import { functionBuildOptions } from "./build-function.js";
import { BUNDLE_FILE } from "./function-bundle.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = `${ROOT}dist`;

/** The package's entry points: `exports` subpath, source, output folder. */
export const ENTRY_POINTS = [
  { subpath: "./client", source: "functions/client/index.ts", folder: "client" },
  { subpath: "./cdk", source: "infra/cdk.ts", folder: "cdk" },
] as const;

const library = (source: string): BuildOptions => ({
  entryPoints: [`${ROOT}${source}`],
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});

// In CommonJS, import.meta.url is computed from __filename, which is what it means in ESM.
const CJS_IMPORT_META = {
  define: { "import.meta.url": "__importMetaUrl" },
  banner: { js: 'const __importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
};

export async function buildPackage(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  await Promise.all([
    ...ENTRY_POINTS.flatMap(({ source, folder }) => [
      build({ ...library(source), format: "esm", outfile: `${DIST}/${folder}/index.js` }),
      build({
        ...library(source),
        ...CJS_IMPORT_META,
        format: "cjs",
        outfile: `${DIST}/${folder}/index.cjs`,
      }),
    ]),
    build({
      ...library("functions/client/bin.ts"),
      format: "esm",
      outfile: `${DIST}/client/bin.js`,
    }),
    build(functionBuildOptions(`${DIST}/function/${BUNDLE_FILE}`)),
  ]);
  execFileSync(
    process.execPath,
    [`${ROOT}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
  keepOnlyReachable(`${DIST}/types`, ["functions/client/index.d.ts", "infra/cdk.d.ts"]);
  cpSync(`${DIST}/types`, `${DIST}/types-cjs`, { recursive: true });
  writeFileSync(`${DIST}/types-cjs/package.json`, `${JSON.stringify({ type: "commonjs" })}\n`);
}

// tsc declares every module the entry points import, also those whose types no declaration of an
// entry point reaches (the function's event types, say); those would only add imports to check.
function keepOnlyReachable(root: string, entries: readonly string[]): void {
  const reached = new Set<string>();
  const visit = (file: string) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = readFileSync(file, "utf8");
    for (const [, specifier = ""] of text.matchAll(/(?:from|import\()\s*"(\.[^"]+)\.js"/g)) {
      visit(join(dirname(file), `${specifier}.d.ts`));
    }
  };
  for (const entry of entries) visit(join(root, entry));
  for (const file of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    const path = join(root, file);
    if (file.endsWith(".d.ts") && !reached.has(path)) rmSync(path);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPackage();
