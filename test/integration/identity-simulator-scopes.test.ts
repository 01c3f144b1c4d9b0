/**
 * The CyberArk Identity simulator's scopes, over HTTPS: each asked scope is checked against the
 * app's allowed scopes, the grant is what was asked (or the app's default), and it says so in the
 * answer, in the token's claims and in introspection. Tests that need a tenant granting narrower or
 * broader than asked rely on its knobs, so those are held to their word here too.
 */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";

const CLIENT = { client_id: "svc-scopes@example.com", client_secret: "s3cret" };
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: {
    reports_api: { scopes: ["read", "write", "admin"], defaultScopes: ["read"] },
    open_api: {},
    stingy_api: { scopes: ["read", "write"], grant: { omit: ["write"] } },
  },
});

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** One `client_credentials` request to `path`, asking for `scope` when given. */
async function ask(path: string, scope?: string): Promise<Answer> {
  const response = await fetch(new URL(path, simulator.url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      ...CLIENT,
      ...(scope === undefined ? {} : { scope }),
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(new URL("/oauth2/introspect", simulator.url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, ...CLIENT }),
  });
  return (await response.json()) as Record<string, unknown>;
}

const REPORTS = "/oauth2/token/reports_api";

beforeAll(async () => {
  await simulator.start();
});
afterAll(async () => {
  await simulator.stop();
});
beforeEach(() => {
  simulator.reset();
});

describe("the simulator's scope checks", () => {
  it("grants an ask within the app's scopes, and says so in the answer, the claims and introspection", async () => {
    const { status, body } = await ask(REPORTS, "write read");

    expect(status).toBe(200);
    expect(body.scope).toBe("write read");
    const token = body.access_token as string;
    expect(decodeJwt(token).scope).toBe("write read");
    expect(await introspect(token)).toMatchObject({ active: true, scope: "write read" });
  });

  it.each([["read delete"], ["delete"], ['read "quoted"']])(
    "refuses an ask with any scope outside the app's (%s) with 400 invalid_scope",
    async (scope) => {
      const { status, body } = await ask(REPORTS, scope);

      expect(status).toBe(400);
      expect(body.error).toBe("invalid_scope");
    },
  );

  it("counts each scope once, however often it is asked", async () => {
    expect((await ask(REPORTS, "read  read write")).body.scope).toBe("read write");
  });

  it("grants the app's default scopes when nothing is asked", async () => {
    const { body } = await ask(REPORTS);

    expect(body.scope).toBe("read");
    expect(await introspect(body.access_token as string)).toMatchObject({ scope: "read" });
  });

  it("keeps the old behaviour for an app without scopes: anything asked is granted, nothing asked gets no scope", async () => {
    const asked = await ask("/oauth2/token/open_api", "anything at-all");
    const none = await ask("/oauth2/token/open_api");

    expect(asked.body.scope).toBe("anything at-all");
    expect(none.body).not.toHaveProperty("scope");
    const token = none.body.access_token as string;
    expect(decodeJwt(token)).not.toHaveProperty("scope");
    expect(await introspect(token)).not.toHaveProperty("scope");
  });

  it("checks nothing for platform tokens, granting what was asked", async () => {
    expect((await ask("/oauth2/platformtoken", "whatever")).body.scope).toBe("whatever");
  });
});

describe("the simulator's knobs for grants other than asked", () => {
  it("grants narrower than asked for the next request only (grantNext omit)", async () => {
    simulator.grantNext({ omit: ["write"] });

    const narrowed = await ask(REPORTS, "read write");
    const next = await ask(REPORTS, "read write");

    expect(narrowed.body.scope).toBe("read");
    expect(decodeJwt(narrowed.body.access_token as string).scope).toBe("read");
    expect(next.body.scope).toBe("read write");
  });

  it("grants broader than asked, even beyond the app's scopes (grantNext add)", async () => {
    simulator.grantNext({ add: ["admin", "superuser"] }, 2);

    const first = await ask(REPORTS, "read");
    const second = await ask(REPORTS);
    const third = await ask(REPORTS, "read");

    expect([first, second, third].map((answer) => answer.body.scope)).toEqual([
      "read admin superuser",
      "read admin superuser",
      "read",
    ]);
    expect(await introspect(first.body.access_token as string)).toMatchObject({
      scope: "read admin superuser",
    });
  });

  it("says an empty scope when a narrowed grant leaves nothing of the ask", async () => {
    simulator.grantNext({ omit: ["read"] });

    const { status, body } = await ask(REPORTS, "read");

    expect(status).toBe(200);
    expect(body.scope).toBe("");
  });

  it("applies an app's own grant option to every request, still refusing asks outside its scopes", async () => {
    expect((await ask("/oauth2/token/stingy_api", "read write")).body.scope).toBe("read");
    expect((await ask("/oauth2/token/stingy_api", "read write")).body.scope).toBe("read");
    expect((await ask("/oauth2/token/stingy_api", "admin")).status).toBe(400);
  });

  it("grants another lifetime when told (grantNext expiresIn), scopes as asked", async () => {
    simulator.grantNext({ expiresIn: 600 });

    const short = await ask(REPORTS, "read");
    const usual = await ask(REPORTS, "read");

    expect(short.body).toMatchObject({ expires_in: 600, scope: "read" });
    const claims = decodeJwt(short.body.access_token as string);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(usual.body.expires_in).toBe(3600);
  });

  it("forgets queued grants on reset", async () => {
    simulator.grantNext({ add: ["admin"] });
    simulator.reset();

    expect((await ask(REPORTS, "read")).body.scope).toBe("read");
  });
});
