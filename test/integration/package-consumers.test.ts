/**
 * The published package, used as other teams would use it: packed once (`npm pack`, which builds
 * it), installed into a scratch folder outside the repository, and then
 *
 * - read: every import in the tarball is a declared dependency;
 * - a CommonJS CDK app of the shape `cdk init app --language typescript` makes, and the same app
 *   as ESM, each synthesizing the construct example (examples/construct, shown in docs/construct.md)
 *   with its reports/ handler;
 * - a CommonJS Lambda handler calling the client against the local server;
 * - TypeScript consumers under moduleResolution node10, nodenext (CommonJS and ESM) and bundler.
 *
 * Offline-friendly: aws-cdk-lib, constructs, cdk-nag and @types/node are linked from this
 * repository's node_modules, and the client's own dependencies come from npm's cache.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAllowed, parseCaller } from "../../functions/core/callers.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import type { ValidationReport } from "../support/stack.js";

const run = promisify(execFile);
const REPOSITORY = realpathSync(join(import.meta.dirname, "../.."));
const PACKAGE = JSON.parse(readFileSync(join(REPOSITORY, "package.json"), "utf8")) as {
  name: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const TSC = join(REPOSITORY, "node_modules/typescript/bin/tsc");
const TSX = join(REPOSITORY, "node_modules/tsx/dist/cli.mjs");

/** The construct example, an app's `bin/` file (docs/construct.md shows it; a unit test holds the two alike). */
const EXAMPLE = join(REPOSITORY, "examples/construct");
function constructExample(): string {
  return readFileSync(join(EXAMPLE, "bin/platform.ts"), "utf8");
}

let scratch = "";
let installed = "";

function write(path: string, content: string | object): void {
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(
    join(scratch, path),
    typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`,
  );
}

// One consumer file for every resolution: both entry points, their types, a metric alarm.
const CONSUMER = `import { TokenVendingClient, TokenVendingError, type TokenResponse } from "${PACKAGE.name}/client";
import { CyberArkTokenVending, type CyberArkTokenVendingProps } from "${PACKAGE.name}/cdk";
import { App, Stack } from "aws-cdk-lib";

const props: CyberArkTokenVendingProps = {
  profiles: { x: { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "s" } },
};
const vending = new CyberArkTokenVending(new Stack(new App(), "S"), "T", props);
export const alarm = vending.metricVended().with({ statistic: "Sum" }).createAlarm(vending, "A", {
  threshold: 1,
  evaluationPeriods: 1,
});
const client = new TokenVendingClient({ url: "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/" });
export const token = (): Promise<TokenResponse> => client.getToken("x");
export const isVendingError = (error: unknown): boolean => error instanceof TokenVendingError;
`;

const RESOLUTIONS = [
  ["node10", "commonjs", { module: "commonjs", moduleResolution: "node10" }, "index.ts"],
  ["nodenext", "commonjs", { module: "nodenext", moduleResolution: "nodenext" }, "index.cts"],
  ["nodenext", "ESM", { module: "nodenext", moduleResolution: "nodenext" }, "index.mts"],
  ["bundler", "ESM", { module: "esnext", moduleResolution: "bundler" }, "index.ts"],
] as const;

const typeChecks = new Map<string, Promise<string>>();

/** Writes the consumer with a tsconfig for one resolution and returns what tsc printed. */
async function typeCheck(name: string, options: object, file: string): Promise<string> {
  const folder = `types-${name}`;
  write(`${folder}/${file}`, CONSUMER);
  write(`${folder}/tsconfig.json`, {
    compilerOptions: {
      ...options,
      target: "ES2022",
      strict: true,
      noEmit: true,
      types: ["node"],
      skipLibCheck: true,
    },
    files: [file],
  });
  const result = await run(process.execPath, [TSC, "-p", join(scratch, folder)]).catch(
    (error: { stdout: string }) => error,
  );
  return "stdout" in result ? result.stdout : "";
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "ctv-consumers-"));
  // prepack builds the package: both module formats, their types and the function bundle.
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], {
    cwd: REPOSITORY,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string }[];
  const linked = (name: string) => `file:${realpathSync(join(REPOSITORY, "node_modules", name))}`;
  write("package.json", {
    name: "consumers",
    private: true,
    dependencies: {
      [PACKAGE.name]: `file:${join(scratch, packed?.filename ?? "")}`,
      "aws-cdk-lib": linked("aws-cdk-lib"),
      constructs: linked("constructs"),
      "cdk-nag": linked("cdk-nag"),
      "@types/node": linked("@types/node"),
    },
  });
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: scratch,
  });
  installed = join(scratch, "node_modules", PACKAGE.name);
  // Each type check takes a while (aws-cdk-lib's declarations are large): start them now, so they
  // run beside the apps below; each test awaits its own.
  for (const [resolution, format, options, file] of RESOLUTIONS) {
    typeChecks.set(`${resolution} ${format}`, typeCheck(`${resolution}-${format}`, options, file));
  }
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("imports nothing it does not declare (dependencies, peer dependencies or Node built-ins)", () => {
    const declared = new Set([
      PACKAGE.name,
      ...Object.keys(PACKAGE.dependencies),
      ...Object.keys(PACKAGE.peerDependencies),
    ]);
    const files = readdirSync(join(installed, "dist"), {
      recursive: true,
      encoding: "utf8",
    }).filter((file) => /\.(m?js|cjs|d\.ts)$/.test(file));
    expect(files.length).toBeGreaterThan(10);
    const undeclared = new Set<string>();
    for (const file of files) {
      const text = readFileSync(join(installed, "dist", file), "utf8").replace(
        /\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm,
        "",
      );
      const specifiers = text.matchAll(
        /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s*)["']([^"'./][^"']*)["']/gm,
      );
      for (const [, specifier = ""] of specifiers) {
        const name = specifier.startsWith("@")
          ? specifier.split("/").slice(0, 2).join("/")
          : (specifier.split("/")[0] ?? "");
        if (!isBuiltin(specifier) && !declared.has(name)) undeclared.add(`${name} (dist/${file})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  it("declares its dependencies with ranges a consumer can dedupe", () => {
    for (const [name, range] of Object.entries(PACKAGE.dependencies)) {
      expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
    }
  });

  it("ships the licence, the changelog and the README, and no sources or tests", () => {
    const top = readdirSync(installed).sort();
    expect(top).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "dist", "package.json"]);
    expect(readFileSync(join(installed, "LICENSE"), "utf8")).toContain("Apache License");
  });
});

describe("a CommonJS CDK app as `cdk init app --language typescript` makes it", () => {
  let template: Template;
  let outdir = "";

  beforeAll(async () => {
    // package.json without "type" (CommonJS), the template's tsconfig, the app in bin/.
    write("cjs-app/package.json", {
      name: "platform",
      version: "0.1.0",
      bin: { platform: "bin/platform.js" },
    });
    write("cjs-app/tsconfig.json", {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["es2022"],
        declaration: true,
        strict: true,
        noImplicitAny: true,
        strictNullChecks: true,
        noImplicitThis: true,
        alwaysStrict: true,
        noImplicitReturns: true,
        experimentalDecorators: true,
        strictPropertyInitialization: false,
        skipLibCheck: true,
        noEmit: true,
        isolatedModules: true,
        types: ["node"],
      },
      exclude: ["node_modules", "cdk.out"],
    });
    write("cjs-app/cdk.json", { app: "npx tsc && npx tsx bin/platform.ts" });
    // The example, and cdk-nag as a security-minded team runs it.
    const nag = `import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
`;
    write("cjs-app/bin/platform.ts", `#!/usr/bin/env node\n${constructExample()}${nag}`);
    // The example's function code, as the example's folder has it.
    cpSync(join(EXAMPLE, "reports"), join(scratch, "cjs-app/reports"), { recursive: true });
    const app = join(scratch, "cjs-app");
    await run(process.execPath, [TSC, "-p", app]);
    outdir = join(app, "cdk.out");
    // As `cdk synth` runs it: CDK_OUTDIR makes the App synthesize when the program ends.
    // Findings on the example's own function fail no synth here: the test reads the report.
    const context = { "@aws-cdk/core:failSynthOnValidationErrors": false };
    await run(process.execPath, [TSX, "bin/platform.ts"], {
      cwd: app,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
    });
    template = Template.fromJSON(
      JSON.parse(readFileSync(join(outdir, "PlatformStack.template.json"), "utf8")),
    );
  }, 120_000);

  it("loads the CommonJS build through require", async () => {
    const { stdout } = await run(
      process.execPath,
      ["-e", `console.log(require.resolve("${PACKAGE.name}/cdk"))`],
      { cwd: join(scratch, "cjs-app") },
    );
    expect(stdout.trim()).toMatch(/dist\/cdk\/index\.cjs$/);
  });

  it("synthesizes the example: the API named after the deployment, the function, the grants", () => {
    template.hasResourceProperties("AWS::ApiGateway::RestApi", { Name: "platform-tokens" });
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", {
      DashboardName: "platform-tokens",
    });
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function")).filter(
      (resource) => resource.Properties.Environment?.Variables?.DEPLOYMENT_NAME,
    );
    expect(fn?.Properties).toMatchObject({ Handler: "index.handler", Runtime: "nodejs24.x" });
    // The granted role reaches the function as an allowed caller of its profile only.
    const value = fn?.Properties.Environment.Variables.GRANTED_CALLERS;
    const resolved = (value["Fn::Join"][1] as unknown[])
      .map((part) =>
        typeof part === "string"
          ? part
          : `arn:aws:iam::111122223333:role/${(part as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]}`,
      )
      .join("");
    const config = withGrantedCallers(
      parseProfilesConfig({
        profiles: {
          "reports-app": { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "s" },
          "ci-deployer": { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "s" },
        },
      }),
      resolved,
    );
    const role = JSON.stringify(value).match(/"(ReportsServiceRole[0-9A-F]{8})"/)?.[1] ?? "";
    const session = parseCaller(`arn:aws:sts::111122223333:assumed-role/${role}/invocation`);
    expect(isAllowed(session, config.profiles.get("reports-app")?.allowedCallers ?? [])).toBe(true);
    expect(isAllowed(session, config.profiles.get("ci-deployer")?.allowedCallers ?? [])).toBe(
      false,
    );
  });

  it("packages the prebuilt function with the profiles, without esbuild or Docker", () => {
    const asset = readdirSync(outdir).find(
      (entry) =>
        entry.startsWith("asset.") && readdirSync(join(outdir, entry)).includes("index.mjs"),
    );
    expect(readdirSync(join(outdir, asset ?? "")).sort()).toEqual(["index.mjs", "profiles.json"]);
  });

  it("passes cdk-nag's AWS Solutions checks on everything the construct creates", () => {
    const report: ValidationReport = JSON.parse(
      readFileSync(join(outdir, "validation-report.json"), "utf8"),
    );
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === "AwsSolutions");
    const ours = (nag?.violations ?? []).filter((violation) =>
      violation.violatingConstructs.some(({ constructPath }) =>
        constructPath.startsWith("PlatformStack/Tokens/"),
      ),
    );
    expect(nag).toBeDefined();
    expect(ours).toEqual([]);
  });

  it("has the example's two outputs and none from the construct", () => {
    expect(Object.keys(template.toJSON().Outputs ?? {}).sort()).toEqual([
      "TokenAlarmTopic",
      "TokenVendingUrl",
    ]);
  });
});

describe("an ESM CDK app", () => {
  it("synthesizes the example through import", async () => {
    write("esm-app/package.json", { name: "platform-esm", private: true, type: "module" });
    write("esm-app/tsconfig.json", {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
      },
    });
    write(
      "esm-app/app.ts",
      `${constructExample()}\nconsole.log(import.meta.resolve("${PACKAGE.name}/cdk"));\n`,
    );
    write("esm-app/reports/index.js", "export const handler = async () => ({});\n");
    const app = join(scratch, "esm-app");
    // Type-checked as ESM with the consumers under "types"; here it runs.
    const { stdout } = await run(process.execPath, [TSX, "app.ts"], {
      cwd: app,
      env: { ...process.env, CDK_OUTDIR: join(app, "cdk.out") },
    });

    expect(stdout.trim()).toMatch(/dist\/cdk\/index\.js$/);
    const template = JSON.parse(
      readFileSync(join(app, "cdk.out", "PlatformStack.template.json"), "utf8"),
    );
    Template.fromJSON(template).hasResourceProperties("AWS::ApiGateway::RestApi", {
      Name: "platform-tokens",
    });
  }, 120_000);
});

describe("a CommonJS Lambda handler using the client", () => {
  let server: RunningLocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it("gets a token from the local server through require", async () => {
    write(
      "lambda/index.js",
      `const { TokenVendingClient } = require("${PACKAGE.name}/client");
const tokens = new TokenVendingClient({ url: process.env.CYBERARK_TOKEN_URL });
exports.handler = async () => {
  const { access_token, profile } = await tokens.getToken("demo");
  return { profile, looksLikeJwt: access_token.startsWith("ey") };
};
`,
    );
    const { stdout } = await run(
      process.execPath,
      ["-e", 'require("./index.js").handler().then((r) => console.log(JSON.stringify(r)))'],
      { cwd: join(scratch, "lambda"), env: { ...process.env, CYBERARK_TOKEN_URL: server.url } },
    );
    expect(JSON.parse(stdout)).toEqual({ profile: "demo", looksLikeJwt: true });
  });

  it("runs the cyberark-token executable installed with the package", async () => {
    const bin = join(scratch, "node_modules/.bin/cyberark-token");
    const { stdout } = await run(bin, ["get", "demo", "--url", server.url]);
    expect(stdout).toMatch(/^ey[\w.-]+\n$/);
  });

  it("runs as its help text says, npx --no -- cyberark-token, --help reaching the command, not npx", async () => {
    const { stdout } = await run("npx", ["--no", "--", "cyberark-token", "--help"], {
      cwd: scratch,
    });
    expect(stdout).toMatch(/^Usage: cyberark-token get <profile> /);
    expect(stdout).toContain("npx --no -- cyberark-token");
  });
});

describe("types", () => {
  it.each(RESOLUTIONS)(
    "type-check with moduleResolution %s (%s)",
    async (resolution, format) => {
      expect(await typeChecks.get(`${resolution} ${format}`)).toBe("");
    },
    180_000,
  );
});
