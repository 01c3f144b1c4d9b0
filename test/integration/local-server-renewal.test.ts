/**
 * The local server's scheduled renewal (`--renew-every`), end to end: moto for Secrets Manager,
 * DynamoDB and KMS, the HTTPS CyberArk simulator granting 20-second tokens. This test waits real
 * seconds (about 16): the renewal is driven by the server's own timer, as a user would run it.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { DynamoDbProfileStore } from "../../functions/adapters/dynamodb-profile-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { localServerHeaders } from "../../functions/common/local-secret.js";
import { NO_SCOPES } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { type RunningLocalServer, startLocalServer } from "../../functions/local/start.js";
import { createKey, createSecret, dynamodb, kms, uniqueName } from "../support/aws.js";
import { storedToken } from "../support/profile-items.js";

const WARM = { clientId: "svc-warm@example.com", clientSecret: "warm-Secret" };
const COLD = { clientId: "svc-cold@example.com", clientSecret: "cold-Secret" };
const LIFETIME_SECONDS = 20;
const IDLE_MS = 15_000;

describe("local server with --renew-every 1 and a prewarm profile of 20 s tokens", () => {
  const simulator = new IdentitySimulator({
    tls: inject("simulatorTls"),
    clients: [WARM, COLD],
    tokenLifetimeSeconds: LIFETIME_SECONDS,
  });
  const table = uniqueName("renewal-tokens");
  let server: RunningLocalServer;
  let tokens: DynamoDbProfileStore;
  const asked = (client: { clientId: string }) =>
    simulator.requests.filter((request) => request.clientId === client.clientId).length;

  beforeAll(async () => {
    const tenantUrl = await simulator.start();
    const keyId = await createKey();
    const secret = (name: string, client: typeof WARM) =>
      createSecret(uniqueName(name), {
        client_id: client.clientId,
        client_secret: client.clientSecret,
      });
    const profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-renewal-")), "profiles.json");
    writeFileSync(
      profilesFile,
      JSON.stringify({
        profiles: {
          warm: {
            tenantUrl,
            secretId: await secret("cyberark/warm", WARM),
            allowedCallers: ["111122223333"],
            prewarm: true,
          },
          cold: {
            tenantUrl,
            secretId: await secret("cyberark/cold", COLD),
            allowedCallers: ["111122223333"],
          },
        },
      }),
    );
    server = await startLocalServer({
      port: 0,
      profilesFile,
      table,
      kmsKeyId: keyId,
      caller: "arn:aws:sts::111122223333:assumed-role/dev/me",
      renewEverySeconds: 1,
    });
    // The table as the server sees it, opened with the same KMS key.
    const cipher = new EnvelopeCipher(new KmsDataKeys(kms, keyId));
    tokens = new DynamoDbProfileStore(dynamodb, table, cipher, { warn: () => {} });
  });
  afterAll(async () => {
    await server?.close();
    await simulator.stop();
  });

  it(
    "keeps a renewed token in the table, so the first GET after 15 idle seconds asks CyberArk nothing",
    async () => {
      // Before any request: the start-up run put the prewarm profile's token in the table.
      let first: CachedToken | undefined;
      await vi.waitFor(
        async () => {
          first = await storedToken(tokens, "warm", NO_SCOPES);
          expect(first).toBeDefined();
        },
        { timeout: 5_000, interval: 100 },
      );
      expect(asked(WARM)).toBe(1);

      // 15 s without a request: past the 20 s token's half-life, so the timer renewed it.
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const before = simulator.requests.length;
      // A small min_validity, so the GET itself does not start a refresh ahead of need.
      const response = await fetch(`${server.url}/tokens/warm?min_validity=1`, {
        headers: localServerHeaders(new URL(server.url)),
      });
      const body = (await response.json()) as { access_token: string; expires_in: number };
      const during = simulator.requests.length - before;

      expect(response.status).toBe(200);
      expect(during).toBe(0);
      expect(asked(WARM)).toBeGreaterThanOrEqual(2);
      expect(body.access_token).not.toBe(first?.accessToken);
      // The first token had under 5 s left; the renewed one was issued after its half-life.
      expect(body.expires_in).toBeGreaterThan(LIFETIME_SECONDS - IDLE_MS / 1000);
      expect((await storedToken(tokens, "warm", NO_SCOPES))?.accessToken).toBe(body.access_token);
    },
    IDLE_MS + 15_000,
  );

  it("never fetches a token of a profile without prewarm unasked", async () => {
    expect(asked(COLD)).toBe(0);
    expect(await storedToken(tokens, "cold", NO_SCOPES)).toBeUndefined();

    const response = await fetch(`${server.url}/tokens/cold`, {
      headers: localServerHeaders(new URL(server.url)),
    });

    expect(response.status).toBe(200);
    expect(asked(COLD)).toBe(1);
  });
});

describe("npm start --renew-every", () => {
  it.each(["x", "-1", "1.5", "86401"])("refuses %s with a usage error", async (value) => {
    const run = promisify(execFile);
    const failure = await run("node_modules/.bin/tsx", [
      "functions/local/main.ts",
      `--renew-every=${value}`,
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(
      `error: --renew-every must be a whole number of seconds from 0 (off) to 86400, not "${value}"`,
    );
  });
});
