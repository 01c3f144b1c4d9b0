import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DescribeTableCommand, DescribeTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TOKEN_TABLE_SCHEMA } from "../../functions/adapters/token-table.js";
import { localServerHeaders } from "../../functions/common/local-secret.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import {
  DEMO_ADMIN,
  DEMO_CALLER,
  DEMO_READER,
  type RunningLocalServer,
  startLocalServer,
} from "../../functions/local/start.js";
import { createKey, createSecret, dynamodb, uniqueName } from "../support/aws.js";
import { withoutAwsCredentials } from "../support/no-aws-credentials.js";

const run = promisify(execFile);

async function getJson(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : undefined,
  };
}

describe("local server, embedded mode (in-process)", () => {
  let server: RunningLocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it("prints where it listens and a ready command that fetches a token", () => {
    expect(server.readyMessage).toContain(`listening on ${server.url}`);
    expect(server.readyMessage).toContain(`curl -s --fail-with-body ${server.url}/tokens/demo`);
  });

  it("vends a JWT-shaped token for the demo profile over real HTTP, then serves it from cache", async () => {
    const first = await getJson(`${server.url}/tokens/demo`);
    const second = await getJson(`${server.url}/tokens/demo`);

    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.json).toMatchObject({
      token_type: "Bearer",
      profile: "demo",
      access_token: expect.stringMatching(/^ey[\w-]+\.ey[\w-]+\.[\w-]+$/),
    });
    expect(second.json.access_token).toBe(first.json.access_token);
  });

  it("takes the caller from x-caller-arn", async () => {
    const denied = await getJson(`${server.url}/tokens/demo`, {
      headers: { "x-caller-arn": "arn:aws:sts::000000000000:assumed-role/someone-else/s" },
    });
    expect([denied.status, denied.json.error]).toEqual([403, "access_denied"]);
  });

  it("lets the demo admin DELETE, after which a new token is vended", async () => {
    const before = (await getJson(`${server.url}/tokens/demo`)).json.access_token;
    const deleted = await fetch(`${server.url}/tokens/demo`, {
      method: "DELETE",
      headers: { "x-caller-arn": DEMO_ADMIN },
    });
    const after = (await getJson(`${server.url}/tokens/demo`)).json.access_token;

    expect(deleted.status).toBe(204);
    expect(after).not.toBe(before);
  });

  it("answers bad requests with the contract's JSON errors", async () => {
    expect((await getJson(`${server.url}/tokens/demo?min_validity=abc`)).json.error).toBe(
      "invalid_request",
    );
    expect((await getJson(`${server.url}/tokens/demo`, { method: "POST", body: "x" })).status).toBe(
      405,
    );
    expect((await getJson(`${server.url}/elsewhere`)).status).toBe(404);
  });
});

describe("local server, --profiles mode against moto (in-process)", () => {
  const simulator = new IdentitySimulator({
    tls: inject("simulatorTls"),
    clients: [{ clientId: "svc-local@example.com", clientSecret: "local-Secret" }],
  });
  const table = uniqueName("local-tokens");
  const caller = "arn:aws:sts::111122223333:assumed-role/dev/me";
  let server: RunningLocalServer;

  beforeAll(async () => {
    const tenantUrl = await simulator.start();
    const secretId = await createSecret(uniqueName("cyberark/local"), {
      client_id: "svc-local@example.com",
      client_secret: "local-Secret",
    });
    const profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-local-")), "profiles.json");
    writeFileSync(
      profilesFile,
      JSON.stringify({
        profiles: { dev: { tenantUrl, secretId, allowedCallers: ["111122223333"] } },
      }),
    );
    server = await startLocalServer({
      port: 0,
      profilesFile,
      table,
      kmsKeyId: await createKey(),
      caller,
    });
  });
  afterAll(async () => {
    await server.close();
    await simulator.stop();
  });

  it("creates the missing table with the stack's key schema and TTL attribute", async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
    const { TimeToLiveDescription } = await dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: table }),
    );

    expect(Table?.KeySchema).toEqual([
      { AttributeName: TOKEN_TABLE_SCHEMA.partitionKey, KeyType: "HASH" },
    ]);
    expect(TimeToLiveDescription).toMatchObject({
      AttributeName: TOKEN_TABLE_SCHEMA.timeToLiveAttribute,
      TimeToLiveStatus: "ENABLED",
    });
    expect(server.readyMessage).toContain(`table ${table} (created)`);
  });

  it("vends a token with secrets from Secrets Manager and the HTTPS tenant", async () => {
    // The server's per-start secret, read as the CLI reads it.
    const response = await getJson(`${server.url}/tokens/dev`, {
      headers: localServerHeaders(new URL(server.url)),
    });
    expect(response.status).toBe(200);
    expect(simulator.requests).toMatchObject([{ clientId: "svc-local@example.com" }]);
  });
});

/**
 * `npm start` (or, with `direct`, the program it runs) in a child process of its own process
 * group, as a terminal runs it; `ready` resolves once the ready message is printed.
 */
function npmStart(args: string[], env: NodeJS.ProcessEnv = process.env, direct = false) {
  const [command, commandArgs] = direct
    ? ["node_modules/.bin/tsx", ["functions/local/main.ts", ...args]]
    : ["npm", ["start", "--silent", "--", ...args]];
  const child = spawn(command, commandArgs, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => stdout.includes("Stop with Ctrl-C.") && resolve();
    child.stdout?.on("data", check);
    exited.then(() => reject(new Error(`exited before ready: ${stderr}`)));
  });
  ready.catch(() => {}); // a start that is meant to fail is awaited through `exited`
  // Like Ctrl-C in a terminal: the signal goes to the whole process group (npm and the server).
  const signal = (name: NodeJS.Signals) => process.kill(-(child.pid ?? 0), name);
  // Like `kill <pid>`: the signal goes to the spawned process (npm) alone.
  const signalLauncher = (name: NodeJS.Signals) => process.kill(child.pid ?? 0, name);
  return { child, ready, exited, signal, signalLauncher, output: () => ({ stdout, stderr }) };
}

/** The lines a failed start wrote to stderr, warnings of the runtime aside. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("error: "));
}

/** The commands a ready message prints, in order. */
function readyCommands(printed: string): string[] {
  return [...printed.matchAll(/^ {2}((?:curl|npm) .*)$/gm)].map((m) => m[1] ?? "");
}

/** Runs each command in sh, in order, as a reader pasting them would. */
async function runEach(commands: string[], env: NodeJS.ProcessEnv) {
  const results: { code: number; stdout: string; stderr: string }[] = [];
  for (const command of commands) {
    results.push(
      await run("sh", ["-c", command], { env }).then(
        (result) => ({ code: 0, ...result }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      ),
    );
  }
  return results;
}

function bearer(answer: { access_token?: string }): Record<string, string> {
  return { authorization: `Bearer ${answer.access_token}` };
}

/** Whether nothing answers at `url` any more, within `ms`. */
async function closesWithin(url: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (
      await fetch(`${url}/tokens/demo`).then(
        () => false,
        () => true,
      )
    )
      return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe("npm start (child process)", () => {
  const running: ChildProcess[] = [];
  afterAll(() => {
    for (const child of running) {
      try {
        process.kill(-(child.pid ?? 0), "SIGKILL");
      } catch {
        // already gone
      }
    }
  });

  it("starts on a machine without AWS credentials, every ready command it prints succeeds as printed, and it stops on Ctrl-C", async () => {
    const env = withoutAwsCredentials();
    const start = npmStart(["--port", "0"], env);
    running.push(start.child);
    await start.ready;
    const printed = start.output().stdout;
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    const tenant = /simulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    const commands = readyCommands(printed);

    const results = await runEach(commands, env);
    const afterDelete = await getJson(`${url}/tokens/demo`);
    const scoped = [results[3], results[4]].map((result) => JSON.parse(result?.stdout ?? "{}"));
    const atTenant = await Promise.all(
      scoped.map((answer) => fetch(`${tenant}/userinfo`, { headers: bearer(answer) })),
    );
    start.signal("SIGINT");
    await start.exited;

    const reader = `-H 'x-caller-arn: ${DEMO_READER}'`;
    const wider = `'${url}/tokens/demo-scoped?scope=deploy%20read'`;
    expect(commands).toEqual([
      `curl -s --fail-with-body ${url}/tokens/demo`,
      `npm run --silent cyberark-token -- get demo --url ${url}`,
      `curl -s --fail-with-body -X DELETE -H 'x-caller-arn: ${DEMO_ADMIN}' ${url}/tokens/demo`,
      `curl -s --fail-with-body ${reader} ${url}/tokens/demo-scoped`,
      `curl -s --fail-with-body -H 'x-caller-arn: ${DEMO_CALLER}' ${wider}`,
      `curl -s ${reader} ${wider}`,
      `curl -s --fail-with-body -X DELETE -H 'x-caller-arn: ${DEMO_ADMIN}' ${url}/tokens/demo-scoped`,
    ]);
    const [curl, cli, deleted, , , refused, deletedScoped] = results;
    expect(JSON.parse(curl?.stdout ?? "")).toMatchObject({ token_type: "Bearer", profile: "demo" });
    expect(cli?.stdout).toBe(`${JSON.parse(curl?.stdout ?? "").access_token}\n`);
    expect(deleted?.stdout).toBe("");
    expect(results.map((result) => result.code)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    // The DELETE dropped the cached token, so the next GET gets a new one.
    expect(afterDelete.json.access_token).not.toBe(JSON.parse(curl?.stdout ?? "").access_token);
    // The scopes demo: a narrowed token, a wider one, the reader's wider ask refused, and a
    // DELETE that revoked both at the tenant.
    expect(scoped.map((answer) => answer.scope)).toEqual(["read", "deploy read"]);
    expect(JSON.parse(refused?.stdout ?? "")).toMatchObject({
      error: "access_denied",
      error_description: 'The caller may not ask for the scope "deploy" of this profile.',
    });
    expect(deletedScoped?.stdout).toBe("");
    expect(atTenant.map((response) => response.status)).toEqual([401, 401]);
    expect(start.output().stdout).toContain("SIGINT: stopping");
    await expect(fetch(`${url}/tokens/demo`)).rejects.toThrow();
  }, 60_000);

  it("prints ready commands that work for the caller it was given (--caller the demo admin)", async () => {
    const env = withoutAwsCredentials();
    const start = npmStart(["--port", "0", "--caller", DEMO_ADMIN], env, true);
    running.push(start.child);
    await start.ready;
    const commands = readyCommands(start.output().stdout);

    const results = await runEach(commands, env);
    start.signal("SIGINT");
    await start.exited;

    expect(results.map((result) => [result.code, result.stdout.includes("access_denied")])).toEqual(
      commands.map((command) =>
        command.includes("scope=deploy%20read") && command.includes(DEMO_READER)
          ? [0, true]
          : [0, false],
      ),
    );
    expect(commands.length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it.each<NodeJS.Signals>(["SIGTERM", "SIGHUP"])(
    "stops on %s sent to npm alone: its port closes and its secret file is gone",
    async (signal) => {
      const directory = mkdtempSync(join(tmpdir(), "ctv-signal-"));
      const start = npmStart(
        ["--profiles", "examples/profiles.json", "--table", uniqueName("signal"), "--port", "0"],
        { ...process.env, CYBERARK_TOKEN_LOCAL_DIR: directory },
      );
      running.push(start.child);
      await start.ready;
      const url = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(start.output().stdout);
      const secretFile = join(directory, `local-${url?.[2]}.header`);
      expect(existsSync(secretFile)).toBe(true);

      start.signalLauncher(signal);
      await start.exited;

      expect(await closesWithin(url?.[1] ?? "", 10_000), start.output().stdout.slice(-300)).toBe(
        true,
      );
      expect(existsSync(secretFile)).toBe(false);
    },
    60_000,
  );

  it.each<NodeJS.Signals>(["SIGINT", "SIGTERM"])(
    "shuts down cleanly with exit code 0 on %s",
    async (signal) => {
      const start = npmStart(["--port", "0"], process.env, true);
      running.push(start.child);
      await start.ready;

      start.signal(signal);

      expect(await start.exited).toBe(0);
      expect(start.output().stdout).toContain(`${signal}: stopping`);
    },
    60_000,
  );

  it("ends with one clear line per problem for a bad profiles file, and no stack trace", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ctv-bad-")), "profiles.json");
    writeFileSync(
      file,
      JSON.stringify({ profiles: { demo: { tenantUrl: "ftp://x", secretId: "s" } } }),
    );

    const start = npmStart(["--profiles", file, "--port", "0"]);

    expect(await start.exited).toBe(1);
    expect(errorLines(start.output().stderr)).toEqual([
      `error: ${file}: profile "demo" field "tenantUrl": must use https:// (http:// only for loopback hosts)`,
    ]);
    expect(start.output().stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("ends with one clear line when the port is in use", async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const start = npmStart(["--port", String(port)]);
      expect(await start.exited).toBe(1);
      expect(errorLines(start.output().stderr)).toEqual([
        `error: port ${port} on 127.0.0.1 is already in use (choose another with --port or PORT)`,
      ]);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it("ends with one clear line when AWS is unreachable", async () => {
    const start = npmStart(["--profiles", "examples/profiles.json", "--port", "0"], {
      ...process.env,
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_MAX_ATTEMPTS: "1",
    });

    expect(await start.exited).toBe(1);
    const lines = errorLines(start.output().stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: cannot use DynamoDB at http:\/\/127\.0\.0\.1:9: /);
  }, 60_000);

  it("answers bad usage with exit code 2 and the usage text", async () => {
    const start = npmStart(["--bogus"]);
    expect(await start.exited).toBe(2);
    expect(start.output().stderr).toContain("Usage: npm start -- [options]");
  }, 60_000);
});
