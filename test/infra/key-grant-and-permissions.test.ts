/**
 * Deployment details a security reviewer checks: the function's use of the token key is bound to
 * the encryption context the KMS adapter sends, and API Gateway has no test-invoke permission on
 * the function.
 */
import { describe, expect, it } from "vitest";
import { TOKEN_KEY_ENCRYPTION_CONTEXT } from "../../functions/adapters/token-key-context.js";
import { synthesizeStack } from "../support/stack.js";
import { TemplateValues } from "../support/template-values.js";

const { template } = synthesizeStack();
const values = new TemplateValues(template);
interface Resource {
  Type: string;
  Properties: {
    KeyPolicy?: { Statement: Statement[] };
    PolicyDocument?: { Statement: Statement[] };
    Principal?: string;
    SourceArn?: unknown;
  };
}
interface Statement {
  Principal?: unknown;
  Resource?: unknown;
}
const resources: Record<string, Resource> = template.toJSON().Resources;
const tokenKeyId = values.logicalId("AWS::KMS::Key", "TokenKey");
const roleId = values.logicalId("AWS::IAM::Role", "VendFunctionRole");

const asList = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);
const CONTEXT_CONDITION = {
  StringEquals: { "kms:EncryptionContext:service": "cyberark-token-vending" },
  "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["service"] },
};

describe("the function's grant on the token key", () => {
  it("is the adapter's encryption context, and no other", () => {
    expect(TOKEN_KEY_ENCRYPTION_CONTEXT).toEqual({ service: "cyberark-token-vending" });
  });

  it("in the key policy: GenerateDataKey and Decrypt only with that context", () => {
    const statements = resources[tokenKeyId]?.Properties.KeyPolicy?.Statement ?? [];
    const forRole = statements.filter((statement) =>
      JSON.stringify(statement.Principal).includes(roleId),
    );
    expect(forRole).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Condition: CONTEXT_CONDITION,
      }),
    ]);
  });

  it("in the role's policy: every statement on the token key carries that context", () => {
    const onTokenKey = Object.values(resources)
      .filter((resource) => resource.Type === "AWS::IAM::Policy")
      .flatMap((policy) => policy.Properties.PolicyDocument?.Statement ?? [])
      .filter((statement) =>
        asList(statement.Resource).some((resource) =>
          JSON.stringify(resource).includes(tokenKeyId),
        ),
      );
    expect(onTokenKey).toHaveLength(1);
    expect(onTokenKey[0]).toMatchObject({
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Condition: CONTEXT_CONDITION,
    });
  });
});

describe("API Gateway's permission to invoke the function", () => {
  it("covers the deployed stage only: no test-invoke-stage permission", () => {
    const permissions = Object.values(resources).filter(
      (resource) =>
        resource.Type === "AWS::Lambda::Permission" &&
        resource.Properties.Principal === "apigateway.amazonaws.com",
    );
    const sourceArns = permissions.map((permission) =>
      String(values.resolve(permission.Properties.SourceArn)),
    );
    expect(sourceArns).toHaveLength(1);
    expect(sourceArns[0]).not.toContain("test-invoke-stage");
  });
});
