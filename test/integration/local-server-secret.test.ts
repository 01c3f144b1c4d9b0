/**
 * The local server with --profiles hands out real tokens, so it answers only requests carrying
 * its per-start secret: another user or container on the host (same loopback, not the same
 * files) can neither get a token nor claim a caller with x-caller-arn. The secret sits in a file
 * only the user can read; the ready commands and the CLI use it as printed.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  LOCAL_SECRET_HEADER,
  localSecretFile,
  readLocalSecret,
} from "../../functions/common/local-secret.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { createSecret, uniqueName } from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import { expectNeverLogged } from "../support/never-logged.js";

const run = promisify(execFile);
const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/dev/me`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const CLIENT = { client_id: "svc-secret@example.com", client_secret: "secret-Secret" };

const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
});
const output = captureOutput();
let server: RunningLocalServer;
let secret: string;
// The secret, and the tokens, stay out of the server's log.
const vended: string[] = [];
expectNeverLogged(output, () => [secret, ...vended, CLIENT.client_secret]);
let profilesFile: string;

async function request(path: string, headers: Record<string, string> = {}, method = "GET") {
  const response = await fetch(`${server.url}${path}`, { method, headers });
  const json = (await response.json()) as { error: string; error_description: string };
  return { status: response.status, json };
}

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  const secretId = await createSecret(uniqueName("cyberark/secret"), CLIENT);
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-secret-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      // Only the default caller's role may get the token; only the admin may DELETE.
      profiles: {
        dev: { tenantUrl, secretId, allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/dev`] },
      },
      adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
    }),
  );
  server = await startLocalServer({
    port: 0,
    profilesFile,
    table: uniqueName("secret-tokens"),
    caller: CALLER,
    renewEverySeconds: 0,
  });
  secret = readLocalSecret(new URL(server.url)) ?? "";
});

afterAll(async () => {
  output.stop();
  await server.close();
  await simulator.stop();
});

describe("local server, --profiles mode: the per-start secret", () => {
  it("is written to a file only the user can read, in a directory only the user can enter", () => {
    const file = localSecretFile(Number(new URL(server.url).port));
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, "utf8")).toBe(`${LOCAL_SECRET_HEADER}: ${secret}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(server.readyMessage).not.toContain(secret);
  });

  it("without it, refuses a request, and a request claiming a caller with x-caller-arn", async () => {
    const plain = await request("/tokens/dev");
    const claiming = await request("/tokens/dev", { "x-caller-arn": ADMIN }, "DELETE");
    const wrong = await request("/tokens/dev", { [LOCAL_SECRET_HEADER]: `${secret.slice(1)}x` });

    for (const refused of [plain, claiming, wrong]) {
      expect(refused.status).toBe(403);
      expect(refused.json.error).toBe("access_denied");
      expect(refused.json.error_description).toContain(LOCAL_SECRET_HEADER);
    }
    expect(simulator.requests).toHaveLength(0);
  });

  it("with it, serves the default caller, and honours x-caller-arn", async () => {
    const withSecret = { [LOCAL_SECRET_HEADER]: secret };
    const asDefault = await request("/tokens/dev", withSecret);
    const asStranger = await request("/tokens/dev", {
      ...withSecret,
      "x-caller-arn": `arn:aws:sts::${ACCOUNT}:assumed-role/stranger/s`,
    });
    const asAdmin = await fetch(`${server.url}/tokens/dev`, {
      method: "DELETE",
      headers: { ...withSecret, "x-caller-arn": ADMIN },
    });

    vended.push((asDefault.json as unknown as { access_token: string }).access_token);
    expect(asDefault.status).toBe(200);
    // Refused by the profile's allowedCallers, not by the server: the claim was honoured.
    expect(asStranger.status).toBe(403);
    expect(asStranger.json.error_description).not.toContain(LOCAL_SECRET_HEADER);
    expect(asAdmin.status).toBe(204);
  });

  it("makes the ready commands work exactly as printed", async () => {
    const commands = [...server.readyMessage.matchAll(/^ {2}((?:curl|npm) .*)$/gm)].map(
      (match) => match[1] ?? "",
    );
    expect(commands).toHaveLength(2);
    expect(commands[0]).toContain(" -H @");

    const [curl, cli] = await Promise.all(commands.map((command) => run("bash", ["-c", command])));

    const body = JSON.parse(curl?.stdout ?? "");
    expect(body).toMatchObject({ token_type: "Bearer", profile: "dev" });
    expect(cli?.stdout).toBe(`${body.access_token}\n`);
  }, 60_000);

  it("is new at every start, and removed when the server stops", async () => {
    const second = await startLocalServer({
      port: 0,
      profilesFile,
      table: uniqueName("secret-tokens-2"),
      renewEverySeconds: 0,
    });
    const file = localSecretFile(Number(new URL(second.url).port));
    const secondSecret = readLocalSecret(new URL(second.url));
    await second.close();

    expect(secondSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secondSecret).not.toBe(secret);
    expect(existsSync(file)).toBe(false);
    expect(readLocalSecret(new URL(server.url))).toBe(secret);
  });
});
