/**
 * `cyberark-token --help` is the reference a user copies from: its usage lines name every option
 * each command takes, and every recipe in it runs as written.
 */
import { describe, expect, it } from "vitest";
import { GET_ONLY_OPTIONS, OPTIONS, USAGE } from "../../functions/client/cli-args.js";

const usageLine = (command: string) =>
  USAGE.split("\n").find((line) => line.includes(`cyberark-token ${command} <profile>`)) ?? "";

describe("cyberark-token --help", () => {
  it("names on the get usage line every option the parser takes", () => {
    const line = usageLine("get");
    for (const name of Object.keys(OPTIONS).filter((name) => name !== "help")) {
      expect(line, name).toContain(`[--${name} `);
    }
  });

  it("names on the delete usage line every option delete takes, and none that is for get only", () => {
    const line = usageLine("delete");
    for (const name of Object.keys(OPTIONS).filter((name) => name !== "help")) {
      if ((GET_ONLY_OPTIONS as readonly string[]).includes(name)) {
        expect(line, name).not.toContain(`--${name}`);
      } else {
        expect(line, name).toContain(`[--${name} `);
      }
    }
  });

  it("runs the installed CLI as npx --no -- cyberark-token, so --help and the rest reach the command", () => {
    // `npx --no cyberark-token --help` shows npm's own help for exec: npm reads the options
    // after the name as its own. `npx --no -- cyberark-token --help` runs the command.
    const recipes = USAGE.match(/\bnpx(?: +-\S*)* +[@\w]\S*/g) ?? [];
    expect(recipes).not.toEqual([]);
    for (const recipe of recipes) expect(recipe).toMatch(/npx --no -- cyberark-token/);
  });
});
