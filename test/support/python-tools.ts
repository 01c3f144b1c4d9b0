/**
 * `npm test`'s first step: the integration tests need moto_server and cfn-lint. When one is
 * missing, stop at once with the one command that installs the pinned versions, rather than fail
 * halfway with a stack trace. Nothing is installed from here: our machines may reach no Python
 * package index.
 */
import { spawnSync } from "node:child_process";

const TOOLS = ["moto_server", "cfn-lint"];

// A PATH lookup only: running the tools would cost seconds of Python start-up.
const missing = TOOLS.filter(
  (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status !== 0,
);

if (missing.length > 0) {
  process.stderr.write(
    `error: ${missing.join(" and ")} not found; install the test tools with: pip install -r test/requirements.txt -c test/constraints.txt (or run npm run test:unit, which needs neither)\n`,
  );
  process.exit(1);
}
