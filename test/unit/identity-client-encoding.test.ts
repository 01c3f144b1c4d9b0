import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import type { ClientAuth } from "../../functions/core/profiles.js";

const TENANT = "https://abc1234.id.cyberark.cloud";
const CLIENT_ID = "svc+ci:1@example.com";
const CLIENT_SECRET = "a+b%20c:d é€&=";
// RFC 6749 section 2.3.1: application/x-www-form-urlencoded, then Base64 of `id:secret`.
const ENCODED_ID = "svc%2Bci%3A1%40example.com";
const ENCODED_SECRET = "a%2Bb%2520c%3Ad+%C3%A9%E2%82%AC%26%3D";

interface Sent {
  readonly url: string;
  readonly headers: Headers;
  readonly form: URLSearchParams;
  readonly body: string;
}

let sent: Sent[];

beforeEach(() => {
  sent = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const body = String(init?.body ?? "");
    sent.push({
      url: String(input),
      headers: new Headers(init?.headers),
      form: new URLSearchParams(body),
      body,
    });
    return new Response('{"access_token":"t","token_type":"Bearer","expires_in":60}', {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function tokenThenRevocation(clientAuth: ClientAuth): Promise<[Sent, Sent]> {
  const client = new CyberArkIdentityClient();
  const credentials = {
    clientAuth,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
  };
  await client.requestToken({ ...credentials, endpoint: `${TENANT}/oauth2/token/reports_api` });
  await client.revokeToken({
    ...credentials,
    endpoint: `${TENANT}/oauth2/revoke/reports_api`,
    token: "t",
  });
  const [token, revocation] = sent;
  if (!token || !revocation) throw new Error("expected two requests");
  return [token, revocation];
}

describe("client authentication of a revocation matches the token request's", () => {
  it("sends the same HTTP Basic header, each part form-urlencoded before Base64", async () => {
    const [token, revocation] = await tokenThenRevocation("basic");

    const expected = `Basic ${Buffer.from(`${ENCODED_ID}:${ENCODED_SECRET}`).toString("base64")}`;
    expect(token.headers.get("authorization")).toBe(expected);
    expect(revocation.headers.get("authorization")).toBe(expected);
    expect(revocation.form.has("client_secret")).toBe(false);
    expect(revocation.url).toBe(`${TENANT}/oauth2/revoke/reports_api`);
  });

  it("sends the same form-encoded client_id and client_secret in the body", async () => {
    const [token, revocation] = await tokenThenRevocation("body");

    const credentials = `client_id=${ENCODED_ID}&client_secret=${ENCODED_SECRET}`;
    expect(token.body).toContain(credentials);
    expect(revocation.body).toContain(credentials);
    expect(revocation.form.get("client_secret")).toBe(CLIENT_SECRET);
    expect(revocation.headers.has("authorization")).toBe(false);
  });

  it("sends a form with the token, and the token request's content type and accept", async () => {
    const [token, revocation] = await tokenThenRevocation("body");

    expect(revocation.form.get("token")).toBe("t");
    expect(revocation.form.has("grant_type")).toBe(false);
    for (const name of ["content-type", "accept"]) {
      expect(revocation.headers.get(name)).toBe(token.headers.get(name));
    }
  });
});
