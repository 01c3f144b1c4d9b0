/**
 * How cdk-nag names resolved values in its findings, for acknowledgements that name a resource.
 */

/**
 * How cdk-nag writes a resolved value in a finding: references as `<LogicalId>` or
 * `<LogicalId.Attribute>`, pseudo parameters as `<AWS::Name>`, joins concatenated.
 */
export function renderForNag(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const object = value as Record<string, unknown>;
    if ("Ref" in object) return `<${String(object.Ref)}>`;
    if ("Fn::GetAtt" in object) return `<${(object["Fn::GetAtt"] as string[]).join(".")}>`;
    if ("Fn::Join" in object) {
      const [separator, parts] = object["Fn::Join"] as [string, unknown[]];
      return parts.map(renderForNag).join(separator);
    }
  }
  return JSON.stringify(value);
}
