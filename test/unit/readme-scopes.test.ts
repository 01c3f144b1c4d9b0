import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../functions/core/errors.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { askFor } from "../../functions/core/scope-ceilings.js";
import { MAX_SCOPES, type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import { caller } from "../support/fakes.js";
import { markedBlock } from "../support/markdown.js";

const example = markedBlock("example", "shared-service-user");
const CONFIGURATION = readFileSync(example.file, "utf8");

const shared = parseProfilesConfig(JSON.parse(example.code)).profiles.get("shared");
const job = (name: string) => caller(`arn:aws:sts::111122223333:assumed-role/${name}/run-1`);
const set = (text: string): ScopeSet => scopeSetOf(text.split(" "));

describe("the configuration page's worked example (one service user, a report job and a deploy job)", () => {
  it("is a valid profiles file", () => {
    expect(shared?.scopes).toBe("deploy read");
  });

  it("gives each job what the page says it gets", () => {
    if (!shared) throw new Error("no profile");
    expect(askFor(shared, job("report-job"), undefined)).toBe("read");
    expect(askFor(shared, job("deploy-job"), set("deploy read"))).toBe("deploy read");
  });

  it("refuses the report job's wider ask with the description and log reason the page shows", () => {
    if (!shared) throw new Error("no profile");
    let refused: unknown;
    try {
      askFor(shared, job("report-job"), set("read deploy"));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(AccessDeniedError);
    const { description, message } = refused as AccessDeniedError;
    expect(CONFIGURATION).toContain(
      JSON.stringify({ error_description: description }).slice(1, -1),
    );
    // The page wraps its lines; the log line is one.
    expect(CONFIGURATION.replace(/\s+/g, " ")).toContain(`reason: ${message}`);
  });

  it("states the bound on scopes the code enforces", () => {
    expect(CONFIGURATION).toContain(`at most ${MAX_SCOPES} scopes (\`MAX_SCOPES\``);
  });
});
