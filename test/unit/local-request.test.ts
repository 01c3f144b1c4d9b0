/**
 * The local server splits the usual `/tokens/{profile}` target itself, without a URL parser; what
 * it makes of a target must be what the parser and the shared path rule make of it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { targetParts } from "../../functions/local/local-request.js";
import { profileInPath } from "../../functions/vend/command.js";

const plainSegment = fc.stringMatching(/^[\w~-]{0,70}$/);
const query = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 20 }).map((q) => `?${q}`),
);

describe("the local server's request target", () => {
  it("names the profile of a plain /tokens/{profile} target as the URL parser and the path rule do", () => {
    fc.assert(
      fc.property(plainSegment, query, (segment, search) => {
        const target = `/tokens/${segment}${search}`;
        fc.pre(!search.includes("#"));

        const parts = targetParts(target);
        const parsed = new URL(`http://local${target}`);

        expect(parts?.path).toBe(parsed.pathname);
        expect(parts?.profile).toBe(profileInPath(parsed.pathname));
      }),
    );
  });

  it("leaves the profile to the path rule when the target needs decoding", () => {
    const parts = targetParts("/tokens/de%6Do");

    expect(parts).toEqual({ path: "/tokens/de%6Do", search: "" });
    expect(profileInPath(parts?.path ?? "")).toBe("demo");
  });
});
