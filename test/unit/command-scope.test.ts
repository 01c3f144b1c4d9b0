import { describe, expect, it } from "vitest";
import { MAX_SCOPES } from "../../functions/core/scope-set.js";
import { parseCommand, queryOf, type VendRequest } from "../../functions/vend/command.js";
import { InvalidRequestError } from "../../functions/vend/request-errors.js";

const CALLER = "arn:aws:sts::111122223333:assumed-role/deploy-job/run-1";

function request(search: string, method = "GET"): VendRequest {
  return { method, profile: "shared", query: queryOf(search), body: undefined, caller: CALLER };
}

function askOf(search: string): string | undefined {
  const command = parseCommand(request(search));
  if (command.kind !== "get") throw new Error("expected a GET");
  return command.query.scope;
}

function refusalOf(search: string, method = "GET"): string {
  try {
    parseCommand(request(search, method));
  } catch (error) {
    if (error instanceof InvalidRequestError) return error.description;
    throw error;
  }
  throw new Error("expected an InvalidRequestError");
}

describe("GET ?scope=: the caller's ask", () => {
  it("is absent without scope: the profile's default is asked", () => {
    expect(askOf("")).toBeUndefined();
    expect(askOf("min_validity=60")).toBeUndefined();
  });

  it("is normalised: split on spaces, deduplicated, sorted", () => {
    expect(askOf("scope=b%20a%20a")).toBe("a b");
    expect(askOf("scope=b+a")).toBe("a b");
    expect(askOf("scope=%20deploy%20%20read%20&min_validity=60")).toBe("deploy read");
  });

  it("keeps every scope-token character RFC 6749 allows, ':' '/' '+' and '~' included", () => {
    expect(askOf("scope=api%3A%2F%2Freports%2Bread%7E")).toBe("api://reports+read~");
  });

  it("is refused with 400 when given twice", () => {
    expect(refusalOf("scope=a&scope=b")).toBe(
      "scope must be given at most once: put every scope in one value, separated by spaces.",
    );
  });

  it("is refused with 400 when empty (omit it to get the profile's default)", () => {
    for (const search of ["scope=", "scope=%20%20", "scope"]) {
      expect(refusalOf(search)).toBe(
        "scope must name at least one scope; omit it to get the profile's default.",
      );
    }
  });

  it("is refused with 400 when a scope is not a scope-token, and never echoes it", () => {
    const sent = `${"x".repeat(100)}"quoted"`;
    const description = refusalOf(`scope=read%20${encodeURIComponent(sent)}`);
    expect(description).toBe(
      'scope: each scope must be 1 to 128 printable ASCII characters other than space, " and \\.',
    );
    expect(description).not.toContain("xxxx");
    expect(refusalOf(`scope=${"a".repeat(129)}`)).toMatch(/^scope: each scope must be 1 to 128/);
    expect(refusalOf("scope=a%09b")).toMatch(/^scope: each scope must be 1 to 128/);
  });

  it(`is refused with 400 past ${MAX_SCOPES} distinct scopes`, () => {
    const many = Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `s${i}`).join("%20");
    expect(refusalOf(`scope=${many}`)).toBe(
      `scope: at most ${MAX_SCOPES} scopes may be asked at once.`,
    );
    const repeated = Array.from({ length: MAX_SCOPES + 5 }, () => "same").join("%20");
    expect(askOf(`scope=${repeated}`)).toBe("same");
  });

  it("still refuses other query parameters, naming the two it accepts", () => {
    expect(refusalOf("scopes=a")).toBe(
      "The only query parameters accepted are min_validity and scope.",
    );
  });

  it("is not taken by DELETE, which still has no query", () => {
    expect(refusalOf("scope=a", "DELETE")).toBe("DELETE takes no query parameters.");
  });
});
