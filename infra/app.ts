/**
 * The CDK app: reads the settings from context and the profiles file, builds the stack and runs
 * cdk-nag's AWS Solutions checks on it.
 *
 *   npx cdk deploy -c profiles=path/to/profiles.json [-c apiAccounts=111122223333,444455556666]
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ProfilesConfigError } from "../functions/core/profiles.js";
import { CallerAccountError } from "./caller-accounts.js";
import { SettingsError, settingsFromContext } from "./settings.js";
import { CyberArkTokenVending } from "./token-vending.js";
import { TokenVendingStack } from "./token-vending-stack.js";

const app = new App();
try {
  const { profilesFile, ...settings } = settingsFromContext((key) => app.node.tryGetContext(key));
  new TokenVendingStack(app, app.node.tryGetContext("stackName") ?? "CyberArkTokenVending", {
    ...settings,
    ...CyberArkTokenVending.profilesFromFile(profilesFile),
  });
} catch (error) {
  const known = [ProfilesConfigError, CallerAccountError, SettingsError];
  if (!known.some((type) => error instanceof type)) throw error;
  const problems =
    error instanceof ProfilesConfigError || error instanceof CallerAccountError
      ? error.problems
      : [(error as Error).message];
  for (const problem of problems) process.stderr.write(`error: ${problem}\n`);
  process.exit(1);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
