import { afterEach, describe, expect, it } from "vitest";
import {
  defaultProvider,
  MissingCredentialsError,
} from "../../functions/vend/lambda-credentials.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("the function bundle's credential provider", () => {
  it("reads the role's credentials from the environment, as Lambda provides them", async () => {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "session",
      AWS_CREDENTIAL_EXPIRATION: "2026-11-22T12:00:00Z",
    });

    await expect(defaultProvider({})()).resolves.toEqual({
      accessKeyId: "ASIAEXAMPLE",
      secretAccessKey: "secret",
      sessionToken: "session",
      expiration: new Date("2026-11-22T12:00:00Z"),
    });
  });

  it("reads them at each call, not at construction", async () => {
    const provider = defaultProvider();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "later", AWS_SECRET_ACCESS_KEY: "s" });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_CREDENTIAL_EXPIRATION;

    await expect(provider()).resolves.toEqual({ accessKeyId: "later", secretAccessKey: "s" });
  });

  it("fails with a clear error when the environment holds none", async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;

    await expect(defaultProvider()()).rejects.toBeInstanceOf(MissingCredentialsError);
  });
});
