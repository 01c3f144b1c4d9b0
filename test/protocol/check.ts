/**
 * `npm run check:protocol`: explores every interleaving of the protocol's model at small scope
 * (three instances, two scope sets, a DELETE, a secret rotation, a 429, freezes anywhere) and
 * asserts the invariants of `docs/protocol.md` in every reachable state. Exit 1 on a violation,
 * with a shortest trace to it. `-- --quick`: the scope without the rotation (about 8x faster).
 */
import { explore } from "./explore.js";
import { QUICK, STANDARD } from "./model.js";

const started = performance.now();
const result = explore(process.argv.includes("--quick") ? QUICK : STANDARD);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (result.violation) {
  const { problems, trace } = result.violation;
  process.stdout.write(`explored ${result.states} states, 1 violation (${seconds} s)\n`);
  process.stdout.write(`${problems.map((p) => `violated: ${p}`).join("\n")}\nshortest trace:\n`);
  process.stdout.write(`${trace.map((step, n) => `  ${n + 1}. ${step}`).join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`explored ${result.states} states, 0 violations (${seconds} s)\n`);
