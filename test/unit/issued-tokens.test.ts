/**
 * The ledger of issued tokens, with fakes and a fake clock: every token obtained for a revocable
 * profile is remembered before it is served, and a DELETE revokes every one still alive (the
 * ones renewals replaced included), once each, never failing the 204, and never logging a token.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { tokenFingerprint } from "../../functions/core/token.js";
import type { TokenVendor } from "../../functions/core/vendor.js";
import { exampleConfig } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";
import {
  ciDelete,
  ciQuery,
  reportsQuery as reports,
  reportsDelete,
  type VendorHarness,
  vendorHarness,
} from "../support/vendor-harness.js";

let h: VendorHarness;
let ledger: MemoryIssuedTokens;

const newVendor = () => h.newVendor(exampleConfig(), undefined, ledger);

/** Scripts CyberArk's next answers: each token with its lifetime. */
function answers(...tokens: [accessToken: string, expiresIn: number][]): void {
  for (const [accessToken, expiresIn] of tokens) {
    h.identity.next.push(() => ({ accessToken, expiresIn }));
  }
}

/**
 * Three live tokens of reports-app: "first" (an hour), replaced after half of it by "second" (ten
 * minutes), replaced in turn by "third" (an hour) when it runs short; "first" still lives.
 */
async function threeLiveTokens(vendor: TokenVendor): Promise<string[]> {
  answers(["first", 3600], ["second", 600], ["third", 3600]);
  const first = await vendor.getToken(reports());
  h.clock.advanceSeconds(1801);
  const second = await vendor.getToken(reports(1800));
  h.clock.advanceSeconds(301);
  const third = await vendor.getToken(reports());
  return [first, second, third].map((vended) => vended.token.accessToken);
}

const revokedTokens = () => h.identity.revocations.map((r) => r.token).sort();
const logText = () => JSON.stringify(h.logger.lines);

beforeEach(() => {
  h = vendorHarness();
  ledger = new MemoryIssuedTokens();
});

describe("the ledger remembers every token obtained", () => {
  it("remembers each token of a revocable profile before it is served, renewals included", async () => {
    const vended = await threeLiveTokens(newVendor());

    expect(vended).toEqual(["first", "second", "third"]);
    expect(ledger.entries("reports-app").map((entry) => entry.token.accessToken)).toEqual(vended);
  });

  it("keeps nothing for a platform-token profile, which CyberArk cannot revoke", async () => {
    await newVendor().getToken(ciQuery());

    expect(ledger.entries("ci-deployer")).toEqual([]);
  });

  it("still serves a token it could not remember, warning without the token", async () => {
    ledger.failing = true;

    const vended = await newVendor().getToken(reports());

    expect(vended.token.accessToken).toBe("token-1");
    expect(h.logger.lines).toContainEqual({
      level: "warn",
      message: "token ledger write failed; a DELETE cannot revoke this token",
      attributes: expect.objectContaining({ tokenSha256: tokenFingerprint("token-1") }),
    });
    expect(logText()).not.toContain('"token-1"');
  });

  it("still serves a token when the profile's ledger is full, and says a DELETE cannot revoke it", async () => {
    ledger = new MemoryIssuedTokens(1);
    const vendor = newVendor();
    answers(["kept", 3600], ["not-kept", 3600]);
    await vendor.getToken(reports());
    h.clock.advanceSeconds(1801);

    const vended = await vendor.getToken(reports(1800));

    expect(vended.token.accessToken).toBe("not-kept");
    expect(ledger.entries("reports-app").map((entry) => entry.token.accessToken)).toEqual(["kept"]);
    expect(h.logger.lines.map((line) => line.message)).toContain(
      "token ledger of the profile is full; a DELETE cannot revoke this token",
    );
  });
});

describe("DELETE revokes every live token", () => {
  it("revokes every remembered live token, the replaced ones included, each once", async () => {
    const vendor = newVendor();
    const vended = await threeLiveTokens(vendor);

    const outcome = await vendor.invalidate(reportsDelete());

    expect(revokedTokens()).toEqual([...vended].sort());
    expect(outcome).toEqual({
      revoked: "true",
      tokenSha256: expect.any(String),
      revokedCount: 3,
    });
    expect(outcome.tokenSha256?.split(",").sort()).toEqual(vended.map(tokenFingerprint).sort());
    expect(ledger.entries("reports-app")).toEqual([]);
  });

  it("reads the secret once for all its revocations", async () => {
    const vendor = newVendor();
    await threeLiveTokens(vendor);
    const readsBefore = h.secrets.reads.length;

    await vendor.invalidate(reportsDelete());

    expect(h.secrets.reads.length - readsBefore).toBe(1);
  });

  it("revokes the tokens another instance obtained, which this one never held", async () => {
    await threeLiveTokens(newVendor());

    await newVendor().invalidate(reportsDelete());

    expect(revokedTokens()).toEqual(["first", "second", "third"]);
  });

  it("lets the ledger forget even when there is nothing to revoke (it drops entries that do not open)", async () => {
    const forgotten: string[][] = [];
    const forget = ledger.forget.bind(ledger);
    ledger.forget = async (profile, ids, now) => {
      forgotten.push([...ids]);
      return forget(profile, ids, now);
    };

    await newVendor().invalidate(reportsDelete());

    expect(h.identity.revocations).toEqual([]);
    expect(forgotten).toEqual([[]]);
  });

  it("skips remembered tokens that have expired", async () => {
    const vendor = newVendor();
    await threeLiveTokens(vendor);
    h.clock.advanceSeconds(300); // "second" (ten minutes) is now dead

    await vendor.invalidate(reportsDelete());

    expect(revokedTokens()).toEqual(["first", "third"]);
  });

  it("retries a failed revocation once, answers the DELETE anyway, and keeps what stays alive for the next DELETE", async () => {
    const vendor = newVendor();
    await threeLiveTokens(vendor);
    const failing = (request: { token: string }) => {
      if (request.token === "second") {
        throw new UpstreamUnavailableError({
          dependency: "identity",
          kind: "failed",
          detail: "CyberArk answered 500",
          retryAfterSeconds: 1,
        });
      }
    };
    h.identity.nextRevocations.push(failing, failing, failing, failing, failing, failing);

    const outcome = await vendor.invalidate(reportsDelete());

    expect(outcome.revoked).toBe("failed");
    expect(h.identity.revocations.filter((r) => r.token === "second")).toHaveLength(2);
    expect(h.logger.lines.map((line) => line.message)).toEqual(
      expect.arrayContaining(["token revocation failed; retrying once", "token revocation failed"]),
    );
    expect(h.logger.lines).toContainEqual(
      expect.objectContaining({
        attributes: expect.objectContaining({ tokenSha256: tokenFingerprint("second") }),
      }),
    );
    expect(ledger.entries("reports-app").map((entry) => entry.token.accessToken)).toEqual([
      "second",
    ]);
  });

  it("revokes only the dropped tokens when the ledger cannot be read, still answers, and does not claim it revoked everything", async () => {
    const vendor = newVendor();
    await threeLiveTokens(vendor);
    ledger.failing = true;

    const outcome = await vendor.invalidate(reportsDelete());

    // Tokens the unread ledger holds may be alive: reporting `true` would hide them.
    expect(outcome).toMatchObject({ revoked: "failed", revokedCount: 1, skipped: "failed=1" });
    expect(revokedTokens()).toEqual(["third"]);
    expect(h.logger.lines.map((line) => line.message)).toContain(
      "token ledger read failed; revoking only the tokens the DELETE dropped",
    );
  });

  it("sends no revocation for a platform-token profile", async () => {
    const vendor = newVendor();
    await vendor.getToken(ciQuery());

    expect(await vendor.invalidate(ciDelete())).toEqual({ revoked: "false" });
    expect(h.identity.revocations).toEqual([]);
  });

  it("never logs a remembered token or a client secret", async () => {
    const vendor = newVendor();
    const vended = await threeLiveTokens(vendor);
    h.identity.nextRevocations.push(() => {
      throw new Error("connection reset");
    });

    await vendor.invalidate(reportsDelete());

    const text = logText();
    for (const value of [...vended, "pw", "s3cret"]) expect(text).not.toContain(`"${value}"`);
  });
});
