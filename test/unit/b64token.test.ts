/**
 * The one token rule every boundary shares: an RFC 6750 b64token of at most 16 KiB, not beginning
 * with `~` (a shell would expand it in `eval "CYBERARK_TOKEN=..."`).
 */
import { describe, expect, it } from "vitest";
import { isB64Token, MAX_TOKEN_BYTES, NOT_A_B64TOKEN } from "../../functions/common/b64token.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";

describe("isB64Token", () => {
  it.each([
    ["a JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"],
    ["every symbol of the alphabet", "a-._~+/b=="],
    ["a tilde inside", "x~+/y"],
    ["the longest allowed", "e".repeat(MAX_TOKEN_BYTES)],
  ])("accepts %s", (_, token) => {
    expect(isB64Token(token)).toBe(true);
  });

  it.each(HOSTILE_TOKENS)("refuses a token with %s", (_, token) => {
    expect(isB64Token(token)).toBe(false);
  });

  it("refuses a leading tilde, which the shell expands, and says so", () => {
    for (const token of ["~", "~+/x", "~-", "~root", "~/x"]) expect(isB64Token(token)).toBe(false);
    expect(NOT_A_B64TOKEN).toMatch(/not beginning with ~/);
  });

  it("refuses what is not a string", () => {
    for (const value of [undefined, null, 42, ["x"]]) expect(isB64Token(value)).toBe(false);
  });
});
