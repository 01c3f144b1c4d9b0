/**
 * `npm run bench`: the project's targets, measured in one run on this machine and printed as
 * ratios (absolute numbers vary between machines; ratios measured side by side vary less).
 *
 * 1. Cold-start stampede: N concurrent cold requests over two instances sharing one table
 *    (dynalite, in-process) against upstream requests made. Target: 1 for every N.
 * 2. Cache-hit latency in-process: memory and table level against a direct exchange.
 * 3. Warm hit through the local server against a bare Node HTTP server answering constant JSON,
 *    same load generator, same loopback, rounds interleaved. Target: within 1.3x.
 * 4. The function bundle (the stack's esbuild settings): init over bare `node` (target 50 ms),
 *    and its size, next to the bundle as it was (AWS SDK from the runtime).
 * 5. The first request after an idle period longer than the token's half-life, tenant slowed to
 *    200 ms a token, without and with `prewarm`, against a warm hit (target within 3x with it).
 * 6. The client's size when bundled into a caller's Lambda.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { build } from "esbuild";
import { CyberArkIdentityClient } from "../functions/adapters/cyberark-identity.js";
import { DynamoDbProfileStore } from "../functions/adapters/dynamodb-profile-store.js";
import { EnvelopeCipher, ProcessKeyProvider } from "../functions/adapters/token-cipher.js";
import { parseCaller } from "../functions/core/callers.js";
import type { SecretSource, SecretValue } from "../functions/core/ports.js";
import { parseProfilesConfig } from "../functions/core/profiles.js";
import { TokenVendor } from "../functions/core/vendor.js";
import { startEmbeddedDynamoDb } from "../functions/local/embedded-dynamodb.js";
import { IdentitySimulator } from "../functions/local/identity-simulator.js";
import { createLocalServer, listen } from "../functions/local/server.js";
import { startLocalServer } from "../functions/local/start.js";
import { ensureTokenTable } from "../functions/local/token-table-setup.js";
import { systemClock } from "../functions/vend/composition.js";
import { createVending } from "../functions/vend/vending.js";
import { functionBuildOptions } from "../infra/build-function.js";

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
      store: new DynamoDbProfileStore(dynamodb, table, new EnvelopeCipher(keys), quiet),
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
      endpoint: `${tenantUrl}/oauth2/platformtoken`,
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

// Rounds of the two servers alternate, so a neighbour's load on this shared machine falls on both
// alike; the ratio is taken from the totals.
const ROUNDS = 10;
const PER_ROUND = 4_000;

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
  let localSeconds = 0;
  let bareSeconds = 0;
  const ratios: number[] = [];
  try {
    await load(barePort, "/", 2_000, 16); // warm-up
    await load(localPort, "/tokens/demo", 2_000, 16);
    for (let round = 0; round < ROUNDS; round += 1) {
      const bareRound = PER_ROUND / (await load(barePort, "/", PER_ROUND, 16));
      const localRound = PER_ROUND / (await load(localPort, "/tokens/demo", PER_ROUND, 16));
      bareSeconds += bareRound;
      localSeconds += localRound;
      ratios.push(localRound / bareRound);
    }
  } finally {
    process.stdout.write = write;
    bare.close();
    await local.close();
  }
  ratios.sort((a, b) => a - b);
  const total = ROUNDS * PER_ROUND;
  return [
    `server | requests/s (16 connections, ${ROUNDS} interleaved rounds) | time per request vs bare (total; rounds min-median-max)`,
    `bare node:http, constant JSON | ${(total / bareSeconds).toFixed(0)} | 1x`,
    `local server, warm hit (full handler, audit line) | ${(total / localSeconds).toFixed(0)} | ${(localSeconds / bareSeconds).toFixed(2)}x (${ratios[0]?.toFixed(2)}-${median(ratios).toFixed(2)}-${ratios.at(-1)?.toFixed(2)}; target <= 1.3x)`,
  ];
}

// The function bundle three ways: as deployed, as it was (the AWS SDK resolved from the runtime's
// node_modules), and with the SDK bundled but the whole default credential chain.
const BUNDLE_VARIANTS = {
  deployed: (outfile: string) => functionBuildOptions(outfile),
  "sdk-from-runtime": (outfile: string) => ({
    ...functionBuildOptions(outfile),
    external: ["@aws-sdk/*"],
    alias: {},
  }),
  "full-credential-chain": (outfile: string) => ({ ...functionBuildOptions(outfile), alias: {} }),
} as const;

/** Init as Lambda pays it: import of the bundle in a fresh `node`, minus bare `node -e ""`. */
async function bundle(): Promise<string[]> {
  const directory = join(process.cwd(), ".cache", "bench");
  mkdirSync(directory, { recursive: true });
  const outfiles = {} as Record<keyof typeof BUNDLE_VARIANTS, string>;
  for (const [name, options] of Object.entries(BUNDLE_VARIANTS)) {
    const variant = name as keyof typeof BUNDLE_VARIANTS;
    outfiles[variant] = join(directory, `${variant}.mjs`);
    await build({ ...options(outfiles[variant]), logLevel: "silent" });
  }
  const profiles = join(directory, "profiles.json");
  writeFileSync(
    profiles,
    JSON.stringify({
      profiles: {
        bench: {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: "bench",
          allowedCallers: ["000000000000"],
          prewarm: true,
        },
      },
    }),
  );
  // What the function finds in Lambda (credentials included, so nothing is looked up).
  const env = {
    ...process.env,
    NODE_NO_WARNINGS: "1",
    PROFILES_FILE: profiles,
    TABLE_NAME: "t",
    KMS_KEY_ID: "k",
    API_ID: "a1b2c3d4e5",
    API_STAGE: "v1",
    DEPLOYMENT_NAME: "bench",
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
  };
  // Each run's wall time; an import also reports how long the import took inside the process
  // (a cross-check that process start-up noise does not weigh on).
  const inside: Record<string, number[]> = {};
  const wall = (name: string, args: string[]) => {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed`);
    const elapsed = performance.now() - started;
    if (result.stdout) inside[name] = [...(inside[name] ?? []), Number(result.stdout)];
    return elapsed;
  };
  const importOf = (file: string) => [
    "--input-type=module",
    "-e",
    `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`,
  ];
  const commands: Record<string, string[]> = {
    bare: ["-e", ""],
    ...Object.fromEntries(Object.entries(outfiles).map(([name, file]) => [name, importOf(file)])),
  };
  // Interleaved rounds, so drift on a busy machine affects every variant alike.
  const runs = 41;
  const samples: Record<string, number[]> = {};
  for (let round = 0; round < runs; round += 1) {
    for (const [name, args] of Object.entries(commands)) {
      samples[name] = [...(samples[name] ?? []), wall(name, args)];
    }
  }
  const sorted = (name: string) => (samples[name] ?? []).sort((x, y) => x - y);
  const bare = median(sorted("bare"));
  const row = (label: string, name: keyof typeof BUNDLE_VARIANTS, target = "") => {
    const within = median((inside[name] ?? []).sort((x, y) => x - y));
    return `${label} | ${(statSync(outfiles[name]).size / 1024).toFixed(1)} KB | ${(median(sorted(name)) - bare).toFixed(0)} ms | ${within.toFixed(0)} ms | ${target}`;
  };
  return [
    `bundle (esbuild, ESM, minified) | size | init over bare node (median of ${runs} fresh processes; bare ${bare.toFixed(0)} ms) | the import timed inside the process (median) | target`,
    row("deployed: AWS SDK bundled, credentials from the environment", "deployed", "<= 50 ms"),
    row("before: AWS SDK from the runtime's node_modules", "sdk-from-runtime"),
    row("AWS SDK bundled with the whole default credential chain", "full-credential-chain"),
  ];
}

/**
 * What a caller sees on the first request after an idle period longer than the token's
 * half-life: with a slow tenant (200 ms a token), without and with `prewarm` (a scheduled
 * renewal run in between), over HTTP on loopback, next to a warm hit through the same server.
 * The schedule's run lands on the idle instance itself (Lambda reuses the one warm environment
 * an idle function has), or, under traffic elsewhere, on another instance: both are shown.
 */
async function firstRequestAfterIdle(): Promise<string[]> {
  const lifetimeSeconds = 6;
  const idleMs = (lifetimeSeconds / 2) * 1000 + 500;
  const simulator = new IdentitySimulator({
    clients: [CLIENT],
    tokenLifetimeSeconds: lifetimeSeconds,
    tokenLatencyMs: 200,
  });
  const tenantUrl = await simulator.start();
  const store = await startEmbeddedDynamoDb();
  const keys = new ProcessKeyProvider();
  const silent = { info: () => {}, warn: () => {}, error: () => {} };
  type Scenario = "without" | "same instance" | "other instance";
  const measure = async (scenario: Scenario) => {
    const prewarm = scenario !== "without";
    const table = `idle-${Math.random().toString(36).slice(2, 10)}`;
    await ensureTokenTable(store.client, table, { enableTtl: false });
    const config = parseProfilesConfig(
      {
        profiles: {
          bench: { tenantUrl, secretId: "bench", allowedCallers: ["000000000000"], prewarm },
        },
      },
      { allowLoopbackHttp: true },
    );
    const instance = () =>
      new TokenVendor({
        config,
        secrets: new Secrets(),
        store: new DynamoDbProfileStore(store.client, table, new EnvelopeCipher(keys), quiet),
        identity: new CyberArkIdentityClient(),
        clock: systemClock,
        logger: quiet,
      });
    const vendor = instance();
    const server = createLocalServer({
      vending: createVending({ vendor, clock: systemClock, logger: silent }),
      defaultCaller: "arn:aws:sts::000000000000:assumed-role/bench/b",
      logger: silent,
    });
    const url = `http://127.0.0.1:${await listen(server, 0)}/tokens/bench`;
    const get = async () => {
      const started = performance.now();
      const response = await fetch(url);
      await response.text();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      return performance.now() - started;
    };
    await get(); // the token is in memory and the table
    const warm = await timeEach(50, get);
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    // The schedule's run during the idle period.
    if (scenario === "same instance") await vendor.renewScheduled();
    if (scenario === "other instance") await instance().renewScheduled();
    const afterIdle = await get();
    server.closeAllConnections();
    server.close();
    return { warm: median(warm), afterIdle };
  };
  const rounds = 3;
  const scenarios: Scenario[] = ["without", "same instance", "other instance"];
  const results = new Map<Scenario | "warm", number[]>();
  const add = (key: Scenario | "warm", value: number) =>
    results.set(key, [...(results.get(key) ?? []), value]);
  try {
    for (let round = 0; round < rounds; round += 1) {
      for (const scenario of scenarios) {
        const { warm, afterIdle } = await measure(scenario);
        add("warm", warm);
        add(scenario, afterIdle);
      }
    }
  } finally {
    await Promise.all([simulator.stop(), store.close()]);
  }
  const of = (key: Scenario | "warm") => median((results.get(key) ?? []).sort((x, y) => x - y));
  const warm = of("warm");
  const line = (label: string, key: Scenario, target = "") =>
    `${label} | ${of(key).toFixed(2)} ms | ${(of(key) / warm).toFixed(1)}x | ${target}`;
  return [
    `request (tenant 200 ms a token, ${lifetimeSeconds} s tokens, idle ${idleMs / 1000} s; median of ${rounds}) | latency | vs warm hit | target`,
    `warm hit (memory) | ${warm.toFixed(2)} ms | 1x |`,
    line("first after idle, without prewarm (waits for CyberArk)", "without"),
    line("first after idle, prewarm, renewed on the idle instance", "same instance", "<= 3x"),
    line("first after idle, prewarm, renewed on another instance (table)", "other instance"),
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

// `npm run bench -- warm-hit` (or any section names) runs only those sections.
const SECTIONS = [
  "stampede",
  "cache-levels",
  "warm-hit",
  "bundle",
  "after-idle",
  "client-bundle",
] as const;
const chosen = process.argv.slice(2);
const runs = (section: (typeof SECTIONS)[number]) =>
  chosen.length === 0 || chosen.includes(section);
for (const name of chosen) {
  if (!(SECTIONS as readonly string[]).includes(name)) {
    throw new Error(`unknown section "${name}"; sections: ${SECTIONS.join(", ")}`);
  }
}

process.stdout.write(`# npm run bench (node ${process.version}, ${new Date().toISOString()})\n`);
if (runs("stampede") || runs("cache-levels")) {
  const env = await environment();
  try {
    if (runs("stampede"))
      print("Cold-start stampede: two instances, one table", await stampede(env));
    if (runs("cache-levels")) print("Cache-hit latency, in-process", await cacheLevels(env));
  } finally {
    await env.close();
  }
}
if (runs("warm-hit")) print("Warm hit over HTTP on loopback", await warmHitOverHttp());
if (runs("bundle")) print("Function bundle: cold start", await bundle());
if (runs("after-idle")) print("First request after an idle period", await firstRequestAfterIdle());
if (runs("client-bundle")) print("Client bundle, for a caller's Lambda", await clientBundle());
