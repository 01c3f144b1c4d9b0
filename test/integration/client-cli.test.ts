import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runCli } from "../../functions/client/cli.js";
import {
  type TokenResponse,
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import { signRequest } from "../../functions/client/signing.js";
import {
  DEMO_ADMIN,
  type RunningLocalServer,
  startLocalServer,
} from "../../functions/local/start.js";
import { startFlakyApi } from "../support/flaky-api.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";
import { withoutAwsCredentials } from "../support/no-aws-credentials.js";

const run = promisify(execFile);
const STRANGER = "arn:aws:sts::999988887777:assumed-role/stranger/s";
// The fields other than access_token, for formats that print only the token.
const tokenShape = {
  token_type: "Bearer",
  expires_in: 0,
  expires_at: "",
  profile: "demo",
} as const;

let allowed: RunningLocalServer;
let denied: RunningLocalServer;
let admin: RunningLocalServer;
beforeAll(async () => {
  // The local server takes the caller from --caller; the client signs with the test credentials.
  [allowed, denied, admin] = await Promise.all([
    startLocalServer({ port: 0 }),
    startLocalServer({ port: 0, caller: STRANGER }),
    startLocalServer({ port: 0, caller: DEMO_ADMIN }),
  ]);
});
afterAll(async () => {
  await Promise.all([allowed.close(), denied.close(), admin.close()]);
});

/** What the command wrote to stderr, warnings of the runtime aside. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("cyberark-token: "));
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}, newClient?: CliIo["newClient"]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { ...process.env, GITHUB_ACTIONS: undefined, CYBERARK_TOKEN_URL: undefined, ...env },
    ...(newClient ? { newClient } : {}),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe("TokenVendingClient against the local server", () => {
  it("gets the 200 body over real HTTP", async () => {
    const token = await new TokenVendingClient({ url: allowed.url }).getToken("demo", {
      minValidity: 60,
    });
    expect(token).toMatchObject({
      token_type: "Bearer",
      profile: "demo",
      access_token: expect.stringMatching(/^ey/),
    });
    expect(token.expires_in).toBeGreaterThan(60);
  });

  it("throws a TokenVendingError carrying status, error and request_id when denied", async () => {
    const error = await new TokenVendingClient({ url: denied.url })
      .getToken("demo")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toMatchObject({
      status: 403,
      error: "access_denied",
      code: "access_denied",
      retryable: false,
      request_id: expect.any(String),
    });
  });
});

describe("cyberark-token get", () => {
  it("prints the bare token by default", async () => {
    const result = await cli(["get", "demo", "--url", allowed.url]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("prints the 200 body with --format json", async () => {
    const result = await cli([
      "get",
      "demo",
      "--url",
      allowed.url,
      "--format",
      "json",
      "--min-validity",
      "60",
    ]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      token_type: "Bearer",
      profile: "demo",
      expires_in: expect.any(Number),
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
  });

  it("prints CYBERARK_TOKEN=... with --format env, taking the URL from CYBERARK_TOKEN_URL", async () => {
    const result = await cli(["get", "demo", "--format", "env"], {
      CYBERARK_TOKEN_URL: allowed.url,
    });
    expect(result.stdout).toMatch(/^CYBERARK_TOKEN=ey[\w.-]+\n$/);
  });

  describe.each([
    ["off GitHub Actions", undefined],
    ["on GitHub Actions", "true"],
  ])("%s", (_, githubActions) => {
    it.each([
      ["token", (token: TokenResponse) => token.access_token],
      ["json", (token: TokenResponse) => JSON.stringify(token)],
      ["env", (token: TokenResponse) => `CYBERARK_TOKEN=${token.access_token}`],
    ] as const)(
      "--format %s: stdout is exactly the output line, the mask line goes to stderr first",
      async (format, expected) => {
        const result = await cli(["get", "demo", "--url", allowed.url, "--format", format], {
          GITHUB_ACTIONS: githubActions,
        });

        const tokenText = (/ey[\w-]+\.[\w-]+\.[\w-]+/.exec(result.stdout) ?? [""])[0];
        const token: TokenResponse =
          format === "json"
            ? JSON.parse(result.stdout)
            : { ...tokenShape, access_token: tokenText };
        expect(result.code).toBe(0);
        expect(tokenText).not.toBe("");
        expect(result.stdout).toBe(`${expected(token)}\n`);
        expect(result.stderr).toBe(githubActions ? `::add-mask::${tokenText}\n` : "");
      },
    );
  });

  it("exits 1 with one stderr line naming the error code when denied", async () => {
    const result = await cli(["get", "demo", "--url", denied.url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^cyberark-token: access_denied: .+ \(request_id [\w-]+\)\n$/);
  });

  it("exits 1 naming network_error when nothing answers", async () => {
    const result = await cli(["get", "demo", "--url", "http://127.0.0.1:9"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^cyberark-token: network_error: /);
  });

  it.each([
    [[]],
    [["get"]],
    [["get", "demo"]],
    [["fetch", "demo", "--url", "http://127.0.0.1:1"]],
    [["get", "demo", "--url", "not a url"]],
    [["get", "demo", "--url", "http://127.0.0.1:1", "--format", "yaml"]],
    [["get", "demo", "--url", "http://127.0.0.1:1", "--min-validity", "3601"]],
    [["get", "demo", "--url", "http://127.0.0.1:1", "--bogus"]],
  ])("exits 2 with the usage text for bad usage: %j", async (args) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")).toEqual([
      expect.stringMatching(/^cyberark-token: \S/),
      "Usage: cyberark-token get|delete <profile> --url URL [options]; see cyberark-token --help",
      "",
    ]);
  });

  it.each([
    "http://example.com",
    "http://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
    "http://10.0.0.7:8787",
  ])(
    "exits 2 for --url %s (plain http to a host that is not loopback), making no request",
    async (url) => {
      const clients: TokenVendingClientOptions[] = [];
      const result = await cli(["get", "demo", "--url", url], {}, (options) => {
        clients.push(options);
        return {
          getToken: async () => Promise.reject(new Error("no request may be made")),
          invalidate: async () => Promise.reject(new Error("no request may be made")),
        };
      });

      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^cyberark-token: .*https:\/\//);
      expect(clients).toEqual([]);
    },
  );

  it("exits 2 for a plain-http CYBERARK_TOKEN_URL to a host that is not loopback", async () => {
    const result = await cli(["get", "demo"], { CYBERARK_TOKEN_URL: "http://example.com" });
    expect(result.code).toBe(2);
  });

  it.each(["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"])(
    "accepts the loopback URL %s",
    async (url) => {
      const clients: TokenVendingClientOptions[] = [];
      const result = await cli(["get", "demo", "--url", url], {}, (options) => {
        clients.push(options);
        return {
          getToken: async () => ({ ...tokenShape, access_token: "eyA.eyB.C" }),
          invalidate: async () => {},
        };
      });

      expect(result).toEqual({ code: 0, stdout: "eyA.eyB.C\n", stderr: "" });
      expect(clients).toEqual([{ url, timeoutMs: 30_000 }]);
    },
  );

  it("gets a token over http://localhost from the local server", async () => {
    const result = await cli([
      "get",
      "demo",
      "--url",
      allowed.url.replace("127.0.0.1", "localhost"),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ey[\w.-]+\n$/);
  });

  it("exits 1 with credentials_error, not network_error, for a remote URL on a machine without AWS credentials", async () => {
    const failed = await run(
      "node_modules/.bin/tsx",
      [
        "functions/client/bin.ts",
        "get",
        "demo",
        "--url",
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/",
      ],
      { env: withoutAwsCredentials() },
    ).catch((error: { code: number; stdout: string; stderr: string }) => error);

    expect(failed).toMatchObject({ code: 1, stdout: "" });
    expect(errorLines((failed as { stderr: string }).stderr)).toEqual([
      expect.stringMatching(
        /^cyberark-token: credentials_error: no AWS credentials found .*AWS_ACCESS_KEY_ID/,
      ),
    ]);
  });

  it("explains itself with --help", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    for (const text of [
      "--url",
      "CYBERARK_TOKEN_URL",
      "--min-validity",
      "--format",
      "--timeout",
      "--scope",
      "cyberark-token delete <profile>",
      "b64token",
      "::add-mask::",
      "Exit codes",
    ]) {
      expect(result.stdout).toContain(text);
    }
  });
});

describe("cyberark-token delete", () => {
  it("sends the DELETE as an admin: 204, exit 0, nothing printed", async () => {
    const result = await cli(["delete", "demo", "--url", admin.url]);

    expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("makes the next get obtain a new token from the same server", async () => {
    const api = await startFlakyApi();
    try {
      const first = await cli(["get", "demo", "--url", api.url]);
      const deleted = await cli(["delete", "demo", "--url", api.url]);
      const second = await cli(["get", "demo", "--url", api.url]);

      expect(deleted.code).toBe(0);
      expect(api.requests.map((r) => r.method)).toEqual(["GET", "DELETE", "GET"]);
      expect(api.requests[1]?.url).toBe("/v1/tokens/demo");
      expect(second.stdout).not.toBe(first.stdout);
    } finally {
      await api.close();
    }
  });

  it("exits 1 with access_denied and the request id for a caller that is not an admin (403)", async () => {
    const result = await cli(["delete", "demo", "--url", allowed.url]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^cyberark-token: access_denied: .+ \(request_id [\w-]+\)\n$/);
  });

  it("exits 2 for get-only options", async () => {
    const result = await cli(["delete", "demo", "--url", admin.url, "--format", "json"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^cyberark-token: --format is for get only\n/);
  });
});

describe("cyberark-token --timeout and --scope", () => {
  it.each([
    ["get", ["get", "demo"]],
    ["delete", ["delete", "demo"]],
  ])(
    "%s gives up on a server that never answers after --timeout seconds: exit 1, timeout",
    async (_, args) => {
      const api = await startFlakyApi();
      try {
        api.script({ kind: "stall" }, { kind: "stall" });

        const result = await cli([...args, "--url", api.url, "--timeout", "0.3"]);

        expect(result.code).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toMatch(/^cyberark-token: timeout: no answer .*\n$/);
      } finally {
        await api.close();
      }
    },
  );

  it("retries as the client does: a 503 with Retry-After, then the token", async () => {
    const api = await startFlakyApi();
    try {
      api.script({ kind: "status", status: 503, retryAfter: "0.1", body: {} });

      const result = await cli(["get", "demo", "--url", api.url]);

      expect(result).toEqual({ code: 0, stdout: "token-1\n", stderr: "" });
      expect(api.requests).toHaveLength(2);
    } finally {
      await api.close();
    }
  });

  it("passes --timeout and --scope to the client", async () => {
    const seen: unknown[] = [];
    const result = await cli(
      ["get", "demo", "--url", "http://127.0.0.1:8787", "--timeout", "2.5", "--scope", "b a"],
      {},
      (options) => {
        seen.push(options);
        return {
          getToken: async (profile, getOptions) => {
            seen.push(getOptions);
            return { ...tokenShape, profile, access_token: "eyA" };
          },
          invalidate: async () => {},
        };
      },
    );

    expect(result.code).toBe(0);
    expect(seen).toEqual([
      { url: "http://127.0.0.1:8787", timeoutMs: 2500 },
      { minValidity: 300, scope: "b a" },
    ]);
  });

  it.each(["0", "-1", "abc", "3601", "1e3"])("exits 2 for --timeout %s", async (timeout) => {
    const result = await cli(["get", "demo", "--url", "http://127.0.0.1:1", "--timeout", timeout]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--timeout/);
  });
});

describe("SigV4 signature", () => {
  it("equals botocore's for the same request, credentials and time", async () => {
    const url =
      "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/tokens/ci-deployer?min_validity=300";
    const credentials = {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "session/token+value",
    };

    const ours = await signRequest("GET", new URL(url), {
      region: "eu-west-1",
      credentials,
      signingDate: new Date("2026-11-21T12:00:00Z"),
    });
    const { stdout } = await run("python3", [
      "-c",
      `
import datetime, sys
from unittest import mock
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
request = AWSRequest(method="GET", url=sys.argv[1])
credentials = Credentials(sys.argv[2], sys.argv[3], sys.argv[4])
with mock.patch.object(botocore.auth, "get_current_datetime", return_value=datetime.datetime(2026, 11, 21, 12, 0, 0)):
    botocore.auth.SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
print(request.headers["Authorization"])
`,
      url,
      credentials.accessKeyId,
      credentials.secretAccessKey,
      credentials.sessionToken,
    ]);

    expect(ours.authorization).toBe(stdout.trim());
    expect(ours.authorization).toContain("/eu-west-1/execute-api/aws4_request");
  });
});

describe("cyberark-token with a token that is not an RFC 6750 b64token", () => {
  const answering =
    (accessToken: string): CliIo["newClient"] =>
    () => ({
      getToken: async (profile) => ({
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: 600,
        expires_at: "2026-11-22T12:00:00Z",
        profile,
      }),
      invalidate: async () => {},
    });

  describe.each(["token", "env", "json"])("--format %s", (format) => {
    it.each(HOSTILE_TOKENS)(
      "refuses a token with %s: nothing on stdout, no mask line, one invalid_token line, exit 1",
      async (_, token) => {
        const { code, stdout, stderr } = await cli(
          ["get", "demo", "--url", "http://127.0.0.1:8787", "--format", format],
          { GITHUB_ACTIONS: "true" },
          answering(token),
        );

        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr.split("\n")).toEqual([
          expect.stringMatching(/^cyberark-token: invalid_token: .*b64token/),
          "",
        ]);
        expect(stderr).not.toContain(token);
      },
    );
  });

  it("refuses the same tokens when they come from a real server, with the same line", async () => {
    const api = await startFlakyApi();
    try {
      for (const [, token] of HOSTILE_TOKENS) {
        api.script({ kind: "token", token });
        const { code, stdout, stderr } = await cli(["get", "demo", "--url", api.url], {
          GITHUB_ACTIONS: "true",
        });
        expect({ code, stdout }).toEqual({ code: 1, stdout: "" });
        expect(stderr).toMatch(/^cyberark-token: invalid_token: .*b64token.*\n$/);
        expect(stderr).not.toContain(token);
      }
    } finally {
      await api.close();
    }
  });

  it("prints a b64token with every character of the alphabet and padding, masked first", async () => {
    const token = "AZaz09-._~+/==";
    const { code, stdout, stderr } = await cli(
      ["get", "demo", "--url", "http://127.0.0.1:8787", "--format", "env"],
      { GITHUB_ACTIONS: "true" },
      answering(token),
    );

    expect({ code, stdout, stderr }).toEqual({
      code: 0,
      stdout: `CYBERARK_TOKEN=${token}\n`,
      stderr: `::add-mask::${token}\n`,
    });
  });
});
