import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

// The real CLI, offline: no AWS credentials or region in the environment.
function cdkSynth(...args: string[]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("AWS_")),
  );
  return run("npx", ["cdk", "synth", "--quiet", ...args], { env, timeout: 120_000 });
}

describe("npx cdk synth", () => {
  it("works offline without AWS credentials and packages the function with its profiles file", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "ctv-synth-"));

    await cdkSynth(
      "-c",
      "profiles=examples/profiles.json",
      "-c",
      "apiAccounts=111122223333,444455556666",
      "-o",
      outdir,
    );

    expect(existsSync(join(outdir, "CyberArkTokenVending.template.json"))).toBe(true);
    const assets = readdirSync(outdir).filter((entry) => entry.startsWith("asset."));
    const functionAsset = assets.find((asset) => existsSync(join(outdir, asset, "index.mjs")));
    expect(functionAsset).toBeDefined();
    expect(readdirSync(join(outdir, functionAsset ?? "")).sort()).toEqual([
      "index.mjs",
      "profiles.json",
    ]);
    const bundled = readFileSync(join(outdir, functionAsset ?? "", "profiles.json"), "utf8");
    expect(JSON.parse(bundled)).toEqual(JSON.parse(readFileSync("examples/profiles.json", "utf8")));
  }, 120_000);

  it("builds the function URL door, and no API, with -c frontDoor=function-url", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "ctv-synth-"));

    await cdkSynth(
      "-c",
      "profiles=examples/profiles.json",
      "-c",
      "apiAccounts=111122223333,444455556666",
      "-c",
      "frontDoor=function-url",
      "-o",
      outdir,
    );

    const template = JSON.parse(
      readFileSync(join(outdir, "CyberArkTokenVending.template.json"), "utf8"),
    );
    const types = Object.values(template.Resources as Record<string, { Type: string }>).map(
      (resource) => resource.Type,
    );
    expect(types).toContain("AWS::Lambda::Url");
    expect(types.filter((type) => type.startsWith("AWS::ApiGateway::"))).toEqual([]);
  }, 120_000);

  it("fails with one clear line per problem for an invalid profiles file", async () => {
    const directory = mkdtempSync(join(tmpdir(), "ctv-bad-profiles-"));
    const file = join(directory, "profiles.json");
    writeFileSync(
      file,
      JSON.stringify({
        profiles: {
          Bad: { secretId: "s" },
          ok: { tenantUrl: "http://x.example", secretId: "s" },
          scoped: {
            tenantUrl: "https://x.example",
            secretId: "s",
            applicationId: "app",
            scopes: ["read"],
            allowedCallers: [{ caller: "111122223333", scopes: ["deploy"] }],
          },
        },
      }),
    );

    const failure = await cdkSynth("-c", `profiles=${file}`, "-o", join(directory, "out")).then(
      () => undefined,
      (error: { stderr: string }) => error,
    );

    const lines = (failure?.stderr ?? "").split("\n").filter((line) => line.startsWith("error: "));
    expect(lines).toEqual([
      `error: ${file}: profile "Bad": the name must match ^[a-z0-9][a-z0-9-]{0,62}$`,
      `error: ${file}: profile "Bad" field "tenantUrl": must be an https:// URL such as https://abc1234.id.cyberark.cloud`,
      `error: ${file}: profile "ok" field "tenantUrl": must use https:// (http:// is accepted only by the local server, for loopback hosts)`,
      `error: ${file}: profile "scoped" field "scope": is required when "scopes" is declared: it is what a caller that names no scope asks for (without it, CyberArk would grant the app's own defaults, beyond any caller's ceiling)`,
      `error: ${file}: profile "scoped" field "allowedCallers": entry 0 (caller "111122223333") "scopes": scope "deploy" is not in the profile's "scopes"`,
    ]);
    expect(failure?.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);

  it("refuses callers of an account the API would never admit, one line per caller", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "ctv-synth-"));

    const failure = await cdkSynth(
      "-c",
      "profiles=examples/profiles.json",
      "-c",
      "apiAccounts=111122223333",
      "-o",
      outdir,
    ).then(
      () => undefined,
      (error: { stderr: string }) => error,
    );

    const lines = (failure?.stderr ?? "").split("\n").filter((line) => line.startsWith("error: "));
    expect(lines).toEqual([
      'error: profile "reports-app": caller 444455556666 (account 444455556666) can never reach the API: apiAccess admits only accounts 111122223333; add 444455556666 to apiAccess.accounts (-c apiAccounts=...) or remove the caller',
    ]);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
