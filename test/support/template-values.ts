/**
 * A synthesized template's intrinsic functions (`Ref`, `Fn::GetAtt ... Arn`, `Fn::Join`) turned
 * into the plain values a deployed stack would have, so tests can evaluate event patterns and
 * policies against events and requests that name real-looking resources.
 */
import type { Template } from "aws-cdk-lib/assertions";

export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";

interface Resource {
  Type: string;
}

/** Physical names and ARNs of a template's resources, by logical ID. */
export class TemplateValues {
  readonly #resources: Record<string, Resource>;

  constructor(template: Template) {
    this.#resources = template.toJSON().Resources as Record<string, Resource>;
  }

  /** The logical ID of the one resource of `type` whose ID starts with `prefix`. */
  logicalId(type: string, prefix: string): string {
    const ids = Object.entries(this.#resources)
      .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
      .map(([id]) => id);
    if (ids.length !== 1) throw new Error(`${ids.length} ${type} resources named ${prefix}*`);
    return ids[0] as string;
  }

  /** What `Ref` gives for the resource: its name (its ID for an API or a key). */
  ref(logicalId: string): string {
    const type = this.#type(logicalId);
    if (type === "AWS::ApiGateway::RestApi") return `api${logicalId.slice(0, 6).toLowerCase()}`;
    if (type === "AWS::KMS::Key") return `key-${logicalId}`;
    return `stack-${logicalId}`;
  }

  /** What `Fn::GetAtt [id, Arn]` gives. */
  arn(logicalId: string): string {
    const name = this.ref(logicalId);
    switch (this.#type(logicalId)) {
      case "AWS::Lambda::Function":
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      case "AWS::DynamoDB::Table":
        return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
      case "AWS::IAM::Role":
        return `arn:aws:iam::${ACCOUNT}:role/${name}`;
      case "AWS::KMS::Key":
        return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}`;
      case "AWS::Scheduler::Schedule":
        return `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/${name}`;
      default:
        return `arn:aws:unknown:${REGION}:${ACCOUNT}:${name}`;
    }
  }

  /** `value` with every intrinsic function replaced by its value. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value);
    const [only] = entries;
    if (entries.length === 1 && only) {
      const [name, argument] = only;
      if (name === "Ref") return this.#refOf(argument as string);
      if (name === "Fn::GetAtt") {
        const [id, attribute] = argument as [string, string];
        if (attribute !== "Arn") throw new Error(`Fn::GetAtt ${id}.${attribute} is not resolved`);
        return this.arn(id);
      }
      if (name === "Fn::Join") {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => this.resolve(part)).join(separator);
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item)]));
  }

  #refOf(name: string): string {
    const pseudo: Record<string, string> = {
      "AWS::Partition": "aws",
      "AWS::Region": REGION,
      "AWS::AccountId": ACCOUNT,
      "AWS::URLSuffix": "amazonaws.com",
    };
    return pseudo[name] ?? this.ref(name);
  }

  #type(logicalId: string): string {
    const resource = this.#resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId}`);
    return resource.Type;
  }
}
