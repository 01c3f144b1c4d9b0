/**
 * How the vending function is bundled: one definition for the stack (NodejsFunction) and the
 * benchmark, so the bundle measured is the bundle deployed.
 */

/** esbuild settings of the function bundle. */
export const FUNCTION_BUNDLE = {
  target: "node24",
  format: "esm",
  minify: true,
  sourceMap: false,
  mainFields: ["module", "main"],
  // Some bundled dependencies still call require(); ESM output needs it defined.
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
  // The Lambda runtime provides the AWS SDK v3; bundling it would multiply the package by eight.
  externalModules: ["@aws-sdk/*"],
} as const;
