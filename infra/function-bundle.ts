/**
 * How the vending function is bundled: one definition for the construct, the package build
 * (`npm run build` writes the prebuilt bundle) and the benchmark, so the bundle measured is the
 * bundle deployed.
 */
import { fileURLToPath } from "node:url";

/** esbuild settings of the function bundle. */
export const FUNCTION_BUNDLE = {
  target: "node24",
  format: "esm",
  minify: true,
  sourceMap: false,
  mainFields: ["module", "main"],
  // Some bundled dependencies still call require(); ESM output needs it defined.
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
  // The AWS SDK clients are bundled, tree-shaken and minified, not resolved from the runtime's
  // node_modules: resolving hundreds of files at every cold start cost more than parsing one
  // bundle of five times the size (see the README's cold-start figures).
  externalModules: [],
} as const;

/**
 * Modules replaced in the bundle. Lambda hands the function its role's credentials in the
 * environment, where the SDK's default chain looks first, so the bundle carries only that link
 * of the chain (see `functions/vend/lambda-credentials.ts`), not the SSO, STS and profile
 * providers that could never answer there.
 */
export const FUNCTION_ALIASES: Readonly<Record<string, string>> = {
  "@aws-sdk/credential-provider-node": fileURLToPath(
    new URL("../functions/vend/lambda-credentials.ts", import.meta.url),
  ),
};

/** The Lambda entry point's source, present when running from a checkout of the repository. */
export const HANDLER_ENTRY = fileURLToPath(
  new URL("../functions/vend/handler.ts", import.meta.url),
);

/** The repository's root, for bundling from source. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * The prebuilt bundle the published package ships (`dist/function/index.mjs`). This module is
 * bundled into `dist/cdk/index.js` and `index.cjs`, so the bundle's folder is a sibling of theirs;
 * from the repository's sources the path does not exist, and the construct bundles from source.
 */
export const PREBUILT_BUNDLE_DIR = fileURLToPath(new URL("../function", import.meta.url));

/** The bundle's file name; the Lambda handler is `index.handler`. */
export const BUNDLE_FILE = "index.mjs";
