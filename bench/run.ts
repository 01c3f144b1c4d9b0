/**
 * `npm run bench`: the project's targets, measured in one run on this machine and printed as
 * ratios (absolute numbers vary between machines; ratios measured side by side vary less).
 *
 * 1. Cold-start stampede: N concurrent cold requests over two instances sharing one table
 *    (dynalite, in-process) against upstream requests made. Target: 1 for every N.
 * 2. Cache-hit latency in-process: memory and table level against a direct exchange.
 * 3. Warm hit through the local server against a bare Node HTTP server answering constant JSON,
 *    same load generator, same loopback. Target: within 3x.
 * 4. The function bundle (the stack's esbuild settings): size (target 200 KB minified) and import
 *    time over bare `node` (target 100 ms).
 * 5. The client's size when bundled into a caller's Lambda.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { build } from "esbuild";
import { CyberArkIdentityClient } from "../functions/adapters/cyberark-identity.js";
import { DynamoDbTokenStore } from "../functions/adapters/dynamodb-token-store.js";
import { EnvelopeCipher, ProcessKeyProvider } from "../functions/adapters/token-cipher.js";
import { parseCaller } from "../functions/core/callers.js";
import type { SecretSource, SecretValue } from "../functions/core/ports.js";
import { parseProfilesConfig } from "../functions/core/profiles.js";
import { TokenVendor } from "../functions/core/vendor.js";
import { startEmbeddedDynamoDb } from "../functions/local/embedded-dynamodb.js";
import { IdentitySimulator } from "../functions/local/identity-simulator.js";
import { listen } from "../functions/local/server.js";
import { startLocalServer } from "../functions/local/start.js";
import { ensureTokenTable } from "../functions/local/token-table-setup.js";
import { systemClock } from "../functions/vend/aws-vendor.js";
import { FUNCTION_BUNDLE, HANDLER_ENTRY } from "../infra/function-bundle.js";

const CALLER = parseCaller("arn:aws:sts::000000000000:assumed-role/bench/b");
const CLIENT = { clientId: "bench@example.com", clientSecret: "bench-secret" };
const quiet = { warn: () => {} };

class Secrets implements SecretSource {
  async read(): Promise<SecretValue> {
    return {
      secretString: JSON.stringify({
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
      }),
      versionId: "v1",
    };
  }
}

interface Environment {
  simulator: IdentitySimulator;
  dynamodb: DynamoDBClient;
  newVendor: (table: string) => TokenVendor;
  close: () => Promise<void>;
}

async function environment(): Promise<Environment> {
  const simulator = new IdentitySimulator({ clients: [CLIENT] });
  const tenantUrl = await simulator.start();
  const store = await startEmbeddedDynamoDb();
  const dynamodb = store.client;
  const config = parseProfilesConfig(
    { profiles: { bench: { tenantUrl, secretId: "bench", allowedCallers: ["000000000000"] } } },
    { allowLoopbackHttp: true },
  );
  const keys = new ProcessKeyProvider();
  const newVendor = (table: string) =>
    new TokenVendor({
      config,
      secrets: new Secrets(),
      store: new DynamoDbTokenStore(dynamodb, table, new EnvelopeCipher(keys), quiet),
      identity: new CyberArkIdentityClient(),
      clock: systemClock,
      logger: quiet,
    });
  return {
    simulator,
    dynamodb,
    newVendor,
    close: async () => {
      await Promise.all([simulator.stop(), store.close()]);
    },
  };
}

const query = { profile: "bench", caller: CALLER, minValiditySeconds: 300 };

async function stampede(env: Environment): Promise<string[]> {
  const rows = ["concurrency | upstream requests | all 200 with one token | wall ms"];
  for (const concurrency of [1, 10, 50, 100, 200]) {
    const table = `stampede-${concurrency}`;
    await ensureTokenTable(env.dynamodb, table, { enableTtl: false });
    env.simulator.reset();
    env.simulator.failNext({ kind: "delay", ms: 100 }); // a realistic exchange, so others must wait
    const instances = [env.newVendor(table), env.newVendor(table)];
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: concurrency }, (_, i) => instances[i % 2]?.getToken(query)),
    );
    const wall = performance.now() - started;
    const tokens = new Set(
      results.map((r) => (r.status === "fulfilled" ? r.value?.token.accessToken : "failed")),
    );
    const ok = tokens.size === 1 && !tokens.has("failed");
    rows.push(
      `${concurrency} | ${env.simulator.requests.length} | ${ok ? "yes" : "NO"} | ${wall.toFixed(0)}`,
    );
  }
  return rows;
}

async function timeEach(iterations: number, run: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i += 1) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}

const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
const p99 = (sorted: number[]) => sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN;
const micro = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

async function cacheLevels(env: Environment): Promise<string[]> {
  await ensureTokenTable(env.dynamodb, "levels", { enableTtl: false });
  const warm = env.newVendor("levels");
  await warm.getToken(query);
  const memory = await timeEach(20_000, () => warm.getToken(query));
  // A new instance each time: its memory is empty, so the token comes from the table.
  const table = await timeEach(300, () => env.newVendor("levels").getToken(query));
  const client = new CyberArkIdentityClient();
  const tenantUrl = env.simulator.url;
  const direct = await timeEach(300, () =>
    client.requestToken({
      tenantUrl,
      path: "/oauth2/platformtoken",
      clientAuth: "body",
      ...CLIENT,
    }),
  );
  return [
    "level | median | p99 | direct exchange / level (median)",
    `memory | ${micro(median(memory))} | ${micro(p99(memory))} | ${(median(direct) / median(memory)).toFixed(0)}x`,
    `table (new instance) | ${micro(median(table))} | ${micro(p99(table))} | ${(median(direct) / median(table)).toFixed(1)}x`,
    `direct exchange (loopback simulator) | ${micro(median(direct))} | ${micro(p99(direct))} | 1x`,
  ];
}

/** Requests `path` `total` times over `concurrency` kept-alive connections; returns requests/s. */
async function load(
  port: number,
  path: string,
  total: number,
  concurrency: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent += 1;
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on("end", resolve);
        });
        req.on("error", reject);
        req.end();
      });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return total / seconds;
}

async function warmHitOverHttp(): Promise<string[]> {
  const local = await startLocalServer({ port: 0 });
  const localPort = Number(new URL(local.url).port);
  const body = await (await fetch(`${local.url}/tokens/demo`)).text();
  const bare: Server = createServer((_, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(body);
  });
  const barePort = await listen(bare, 0);
  // Audit lines go to stdout for every request, as in Lambda; silence them for the measurement.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let localRps: number;
  let bareRps: number;
  try {
    await load(barePort, "/", 2_000, 16); // warm-up
    await load(localPort, "/tokens/demo", 2_000, 16);
    bareRps = await load(barePort, "/", 20_000, 16);
    localRps = await load(localPort, "/tokens/demo", 20_000, 16);
  } finally {
    process.stdout.write = write;
    bare.close();
    await local.close();
  }
  return [
    "server | requests/s (16 connections) | time per request vs bare",
    `bare node:http, constant JSON | ${bareRps.toFixed(0)} | 1x`,
    `local server, warm hit (full handler, audit line) | ${localRps.toFixed(0)} | ${(bareRps / localRps).toFixed(2)}x (target <= 3x)`,
  ];
}

async function bundle(): Promise<string[]> {
  const directory = join(process.cwd(), ".cache", "bench");
  mkdirSync(directory, { recursive: true });
  const outfile = join(directory, "index.mjs");
  await build({
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
    logLevel: "silent",
  });
  const profiles = join(directory, "profiles.json");
  writeFileSync(profiles, JSON.stringify({ profiles: {} }));
  const env = {
    ...process.env,
    NODE_NO_WARNINGS: "1",
    TABLE_NAME: "t",
    KMS_KEY_ID: "k",
    PROFILES_FILE: profiles,
    AWS_REGION: "eu-west-1",
  };
  const wall = (args: string[]) => {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { env, stdio: "ignore" });
    if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed`);
    return performance.now() - started;
  };
  // The three SDK clients alone: what the Lambda runtime provides and every cold start loads.
  const sdkClients = [
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/client-secrets-manager",
    "@aws-sdk/client-kms",
  ];
  const commands = {
    bare: ["-e", "0"],
    sdk: [
      "--input-type=module",
      "-e",
      sdkClients.map((name) => `await import(${JSON.stringify(name)});`).join(""),
    ],
    bundle: ["--input-type=module", "-e", `await import(${JSON.stringify(outfile)})`],
  };
  // Interleaved rounds, so drift on a busy machine affects all three alike.
  const runs = 15;
  const samples = { bare: [] as number[], sdk: [] as number[], bundle: [] as number[] };
  for (let round = 0; round < runs; round += 1) {
    for (const name of ["bare", "sdk", "bundle"] as const) samples[name].push(wall(commands[name]));
  }
  const [bare, sdk, imported] = [samples.bare, samples.sdk, samples.bundle].map((list) =>
    list.sort((x, y) => x - y),
  ) as [number[], number[], number[]];
  const size = statSync(outfile).size;
  const over = (sorted: number[]) => `${(median(sorted) - median(bare)).toFixed(0)} ms`;
  return [
    "bundle | value | target",
    `size, minified (AWS SDK from the runtime) | ${(size / 1024).toFixed(1)} KB | <= 200 KB`,
    `import over bare node (median of ${runs}) | ${over(imported)} | <= 100 ms`,
    `of which the three AWS SDK v3 clients alone | ${over(sdk)} |`,
  ];
}

// What the client adds to a caller's Lambda bundle: all of it bundled, or with the AWS SDK packages
// (which include the signer) taken from the Lambda runtime.
async function clientBundle(): Promise<string[]> {
  const directory = join(process.cwd(), ".cache", "bench");
  mkdirSync(directory, { recursive: true });
  const rows = ["client bundle (esbuild, ESM, minified) | size"];
  for (const [label, external] of [
    ["everything bundled", []],
    ["@aws-sdk/* from the Lambda runtime (NodejsFunction's default)", ["@aws-sdk/*"]],
    ["@aws-sdk/* and @smithy/* from the Lambda runtime", ["@aws-sdk/*", "@smithy/*"]],
  ] as const) {
    const outfile = join(directory, "client.mjs");
    await build({
      entryPoints: ["functions/client/index.ts"],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      minify: true,
      // ESM entry points first, so the signer's dependencies tree-shake.
      mainFields: ["module", "main"],
      external: [...external],
      logLevel: "silent",
    });
    rows.push(`${label} | ${(statSync(outfile).size / 1024).toFixed(1)} KB`);
  }
  return rows;
}

function print(title: string, rows: string[]): void {
  process.stdout.write(`\n## ${title}\n\n`);
  const [header, ...body] = rows;
  process.stdout.write(
    `| ${header} |\n|${header
      ?.split("|")
      .map(() => " --- ")
      .join("|")}|\n`,
  );
  for (const row of body) process.stdout.write(`| ${row} |\n`);
}

const env = await environment();
try {
  process.stdout.write(`# npm run bench (node ${process.version}, ${new Date().toISOString()})\n`);
  print("Cold-start stampede: two instances, one table", await stampede(env));
  print("Cache-hit latency, in-process", await cacheLevels(env));
} finally {
  await env.close();
}
print("Warm hit over HTTP on loopback", await warmHitOverHttp());
print("Function bundle", await bundle());
print("Client bundle, for a caller's Lambda", await clientBundle());
