/**
 * Writes the prebuilt function bundle into `dist/function/` for the published package, so a
 * consumer's `cdk synth` needs neither esbuild, Docker nor the function's dependencies.
 * Run by `npm run build` (and so by `npm pack`).
 */
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";
import {
  BUNDLE_FILE,
  FUNCTION_ALIASES,
  FUNCTION_BUNDLE,
  HANDLER_ENTRY,
} from "./function-bundle.js";

/** esbuild options that bundle the handler into `outfile` with the deployed settings. */
export function functionBuildOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [HANDLER_ENTRY],
    outfile,
    bundle: true,
    platform: "node",
    format: FUNCTION_BUNDLE.format,
    target: FUNCTION_BUNDLE.target,
    minify: FUNCTION_BUNDLE.minify,
    sourcemap: FUNCTION_BUNDLE.sourceMap,
    mainFields: [...FUNCTION_BUNDLE.mainFields],
    banner: { js: FUNCTION_BUNDLE.banner },
    external: [...FUNCTION_BUNDLE.externalModules],
    alias: { ...FUNCTION_ALIASES },
    logLevel: "warning",
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outfile = fileURLToPath(new URL(`../dist/function/${BUNDLE_FILE}`, import.meta.url));
  await build(functionBuildOptions(outfile));
}
