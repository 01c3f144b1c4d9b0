/**
 * Stack settings from CDK context (`-c key=value` or cdk.json), checked and typed.
 */
import { resolve } from "node:path";
import * as logs from "aws-cdk-lib/aws-logs";
import type { ApiAccess, ApiEndpoint, FrontDoorKind } from "./token-vending.js";

/** The app's settings, as read from context. */
export interface Settings {
  /** Absolute path of the profiles file. */
  readonly profilesFile: string;
  /** @default "rest-api" */
  readonly frontDoor?: FrontDoorKind;
  /** @default the deploying account only */
  readonly apiAccess?: ApiAccess;
  /** @default { type: "REGIONAL" } */
  readonly endpoint?: ApiEndpoint;
  /** @default no notifications */
  readonly alarmTopicArn?: string;
  /** @default false */
  readonly tracing?: boolean;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** A context value that cannot be used; the message names the key. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

const ACCOUNT = /^\d{12}$/;
const ORGANIZATION = /^o-[a-z0-9]{10,32}$/;
const VPC_ENDPOINT = /^vpce-[0-9a-f]{8,17}$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/;

/**
 * Reads the context keys `profiles` (required), `frontDoor`, `apiAccounts`, `organizationId`, `endpointType`,
 * `vpcEndpointIds`, `alarmTopicArn`, `tracing` and `logRetentionDays`.
 * @throws {SettingsError} naming the first unusable key.
 */
export function settingsFromContext(get: (key: string) => unknown): Settings {
  const profiles = text(get, "profiles");
  if (!profiles) {
    throw new SettingsError(
      "no profiles file: pass -c profiles=path/to/profiles.json (examples/profiles.json shows the format)",
    );
  }
  const frontDoor = text(get, "frontDoor");
  if (frontDoor !== undefined && frontDoor !== "rest-api" && frontDoor !== "function-url") {
    throw new SettingsError(`frontDoor: "${frontDoor}" must be rest-api or function-url`);
  }
  const accounts = list(get, "apiAccounts");
  const organizationId = text(get, "organizationId");
  if (accounts.length > 0 && organizationId) {
    throw new SettingsError("apiAccounts and organizationId are exclusive: give one");
  }
  for (const account of accounts) {
    if (!ACCOUNT.test(account))
      throw new SettingsError(`apiAccounts: "${account}" is not a 12-digit account ID`);
  }
  if (organizationId && !ORGANIZATION.test(organizationId)) {
    throw new SettingsError(
      `organizationId: "${organizationId}" is not an organization ID (o-...)`,
    );
  }

  const endpointType = (text(get, "endpointType") ?? "REGIONAL").toUpperCase();
  const vpcEndpointIds = list(get, "vpcEndpointIds");
  if (endpointType !== "REGIONAL" && endpointType !== "PRIVATE") {
    throw new SettingsError(`endpointType: "${endpointType}" must be REGIONAL or PRIVATE`);
  }
  if (endpointType === "PRIVATE" && frontDoor === "function-url") {
    throw new SettingsError(
      "endpointType PRIVATE needs frontDoor rest-api: a function URL has no private endpoint",
    );
  }
  if (endpointType === "PRIVATE" && vpcEndpointIds.length === 0) {
    throw new SettingsError(
      "endpointType PRIVATE needs vpcEndpointIds (comma-separated vpce-... IDs)",
    );
  }
  for (const id of vpcEndpointIds) {
    if (!VPC_ENDPOINT.test(id))
      throw new SettingsError(`vpcEndpointIds: "${id}" is not a VPC endpoint ID`);
  }

  const alarmTopicArn = text(get, "alarmTopicArn");
  if (alarmTopicArn && !TOPIC_ARN.test(alarmTopicArn)) {
    throw new SettingsError(`alarmTopicArn: "${alarmTopicArn}" is not an SNS topic ARN`);
  }
  const tracing = text(get, "tracing");
  if (tracing !== undefined && tracing !== "true" && tracing !== "false") {
    throw new SettingsError(`tracing: "${tracing}" must be true or false`);
  }
  const retention = text(get, "logRetentionDays");
  const retentionDays = retention === undefined ? undefined : Number(retention);
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    throw new SettingsError(
      `logRetentionDays: "${retention}" is not a CloudWatch Logs retention (e.g. 30, 90, 365)`,
    );
  }

  return {
    profilesFile: resolve(profiles),
    ...(frontDoor ? { frontDoor } : {}),
    ...(accounts.length > 0 ? { apiAccess: { accounts } } : {}),
    ...(organizationId ? { apiAccess: { organizationId } } : {}),
    endpoint:
      endpointType === "PRIVATE" ? { type: "PRIVATE", vpcEndpointIds } : { type: "REGIONAL" },
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    tracing: tracing === "true",
    ...(retentionDays === undefined ? {} : { logRetention: retentionDays as logs.RetentionDays }),
  };
}

function text(get: (key: string) => unknown, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new SettingsError(`${key}: must be a string`);
}

function list(get: (key: string) => unknown, key: string): string[] {
  const value = get(key);
  if (Array.isArray(value)) return value.map(String);
  return (text(get, key) ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}
