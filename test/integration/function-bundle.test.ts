/**
 * The deployed bundle itself (esbuild with the stack's settings: AWS SDK bundled, credentials
 * from the environment only), run in a fresh `node` as Lambda runs it, against moto and the
 * HTTPS CyberArk simulator.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { RENEWAL_EVENT } from "../../functions/vend/renewal-event.js";
import { functionBuildOptions } from "../../infra/build-function.js";
import { createKey, createSecret, createTokenTable, uniqueName } from "../support/aws.js";

const run = promisify(execFile);
const CLIENT = { clientId: "svc-bundle@example.com", clientSecret: "bundle-Secret" };

describe("the function bundle", () => {
  const simulator = new IdentitySimulator({ tls: inject("simulatorTls"), clients: [CLIENT] });
  const directory = mkdtempSync(join(tmpdir(), "ctv-bundle-"));
  const bundle = join(directory, "index.mjs");
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    await build(functionBuildOptions(bundle));
    const tenantUrl = await simulator.start();
    const secretId = await createSecret(uniqueName("cyberark/bundle"), {
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
    });
    const profilesFile = join(directory, "profiles.json");
    writeFileSync(
      profilesFile,
      JSON.stringify({
        profiles: {
          warm: { tenantUrl, secretId, allowedCallers: ["111122223333"], prewarm: true },
        },
      }),
    );
    // As Lambda starts it: the role's credentials in the environment, no shared config files.
    env = {
      ...process.env,
      PROFILES_FILE: profilesFile,
      TABLE_NAME: await createTokenTable(),
      KMS_KEY_ID: await createKey(),
      API_ID: "a1b2c3d4e5",
      API_STAGE: "v1",
      DEPLOYMENT_NAME: "bundle-test",
      AWS_CONFIG_FILE: join(directory, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, "no-credentials"),
      NODE_NO_WARNINGS: "1",
    };
  });
  afterAll(async () => {
    await simulator.stop();
  });

  it("handles the schedule's renewal event in a fresh node, answering counts only", async () => {
    const script = `const { handler } = await import(${JSON.stringify(bundle)});
process.stdout.write(JSON.stringify(await handler(${JSON.stringify(RENEWAL_EVENT)}, {})));`;

    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { env });

    expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "")).toEqual({
      renewed: 1,
      fresh: 0,
      busy: 0,
      failed: 0,
    });
    expect(simulator.requests).toMatchObject([{ clientId: CLIENT.clientId }]);
  });

  it("carries the SDK clients but not the credential providers Lambda never uses", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(bundle, "utf8");

    expect(text).toContain("dynamodb");
    expect(text).not.toMatch(/fromSSO|fromIni|fromProcess|fromTokenFile|credential_process/);
  });
});
