import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { synthesizeStack } from "../support/stack.js";

// The stack's resources as the stack built them before the construct existed (recorded from the
// template of that version), so a deployed stack must update in place.
const before: Record<string, string> = JSON.parse(
  readFileSync(new URL("fixtures/logical-ids.json", import.meta.url), "utf8"),
);

// Resources allowed to go: a Deployment's ID carries a hash of the API by design (a new one on
// every API change), and the log metric filter gave way to the UpstreamErrors metric.
const REPLACEABLE_TYPES = new Set(["AWS::ApiGateway::Deployment", "AWS::Logs::MetricFilter"]);
// Removed on purpose: API Gateway's test-invoke permission on the function (the console's test
// events carry no caller the function could trust; it refuses them, so nothing should send them).
const REMOVED = new Set([
  "ApitokensprofileANYApiPermissionTestCyberArkTokenVendingApi320EAEF6ANYtokensprofileD18D9D0D",
]);

describe("logical IDs", () => {
  it("keep every resource of the stack as it was before the construct, with the same type", () => {
    const resources = synthesizeStack().template.toJSON().Resources as Record<
      string,
      { Type: string }
    >;
    const kept = Object.entries(before).filter(
      ([id, type]) => !REPLACEABLE_TYPES.has(type) && !REMOVED.has(id),
    );
    expect(kept.length).toBeGreaterThan(15);

    const now = Object.fromEntries(kept.map(([id]) => [id, resources[id]?.Type ?? "(missing)"]));
    expect(now).toEqual(Object.fromEntries(kept));
  });

  it("cover the stateful and referenced resources: table, keys, function, role, API, logs, alarms", () => {
    const types = new Set(Object.values(before));
    for (const type of [
      "AWS::DynamoDB::Table",
      "AWS::KMS::Key",
      "AWS::Lambda::Function",
      "AWS::IAM::Role",
      "AWS::ApiGateway::RestApi",
      "AWS::ApiGateway::Stage",
      "AWS::Logs::LogGroup",
      "AWS::CloudWatch::Alarm",
    ]) {
      expect(types).toContain(type);
    }
  });
});
