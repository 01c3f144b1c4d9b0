/**
 * The GitHub Action's executable: what `npm run build:action` bundles into
 * `functions/client/github-action.mjs`, the `main` of `action.yml`.
 */
import { runAction } from "./github-action.js";

process.exitCode = await runAction({
  env: process.env,
  stdout: (text) => process.stdout.write(text),
});
