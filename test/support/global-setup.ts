/**
 * Starts moto_server on a free 127.0.0.1 port and makes a throwaway CA for the HTTPS CyberArk
 * simulator, once per test run. Environment set here reaches the forked test workers: the real
 * AWS SDK clients find moto through AWS_ENDPOINT_URL, and Node trusts the CA through
 * NODE_EXTRA_CA_CERTS (read when a worker process starts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";
import type { TestProject } from "vitest/node";

const INSTALL_HINT =
  "moto_server is required for the integration tests: pip install -r test/requirements.txt -c test/constraints.txt";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const directory = mkdtempSync(join(tmpdir(), "ctv-test-"));
  const tls = await makeTestCertificates();
  const caFile = join(directory, "ca.pem");
  writeFileSync(caFile, tls.ca);
  project.provide("simulatorTls", { key: tls.key, cert: tls.cert });
  process.env.NODE_EXTRA_CA_CERTS = caFile;

  const port = await freePort();
  const moto = await startMoto(port);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
  });
  delete process.env.AWS_PROFILE;
  // Local servers started by the tests (and the CLIs they run) keep their secrets here, not in ~.
  process.env.CYBERARK_TOKEN_LOCAL_DIR = join(directory, "local-secrets");

  return async () => {
    moto.kill("SIGTERM");
    rmSync(directory, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    simulatorTls: { key: string; cert: string };
  }
}

async function makeTestCertificates(): Promise<{ ca: string; key: string; cert: string }> {
  const ca = await generate([{ name: "commonName", value: "cyberark-token-vending test CA" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keySize: 2048,
    algorithm: "sha256",
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { ca: ca.cert, key: leaf.private, cert: leaf.cert };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startMoto(port: number): Promise<ChildProcess> {
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(error.code === "ENOENT" ? INSTALL_HINT : `moto_server failed: ${error.message}`),
      ),
    );
    child.once("exit", (code) =>
      reject(new Error(`moto_server exited (${code}): ${stderr}\n${INSTALL_HINT}`)),
    );
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ready = await Promise.race([isUp(port), failed]);
    if (ready) {
      child.removeAllListeners("exit");
      return child;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`moto_server did not answer on port ${port} within 30 s`);
}

async function isUp(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/moto-api/`);
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
