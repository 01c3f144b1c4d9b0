/**
 * The properties of the `CyberArkTokenVending` construct, and the shapes they are made of.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { FrontDoorKind } from "./front-door.js";

/** One profile, as written in the profiles file. */
export interface ProfileDefinition {
  /** `https://` origin of the CyberArk Identity tenant. */
  readonly tenantUrl: string;
  /** Secrets Manager secret name or ARN holding `client_id` and `client_secret`. */
  readonly secretId: string;
  /**
   * The custom OAuth2 app's ID: tokens from `/oauth2/token/{applicationId}`.
   * @default tokens from `/oauth2/platformtoken`
   */
  readonly applicationId?: string;
  /**
   * Sent as the `scope` form field.
   * @default no scope
   */
  readonly scope?: string;
  /**
   * The scopes callers may ask for (`?scope=`), at most 16; custom-app profiles only.
   * @default callers get exactly `scope`
   */
  readonly scopes?: readonly string[];
  /**
   * How the client credentials travel: `body` or `basic`.
   * @default "body"
   */
  readonly clientAuth?: "body" | "basic";
  /**
   * Role or user ARNs (`*` in the name) and account IDs that may get this profile's token, each
   * either a plain pattern (any scopes of `scopes`) or a {@link CallerDefinition} with a ceiling.
   * @default nobody, unless granted with `grantGetToken`
   */
  readonly allowedCallers?: readonly (string | CallerDefinition)[];
  /**
   * Keep a valid token of this profile in the table at all times: a schedule renews it every
   * minute once it falls below half its lifetime, so no caller waits for CyberArk, not even the
   * first after an idle night. Any `prewarm` profile adds the schedule (one invocation a minute).
   * @default false
   */
  readonly prewarm?: boolean;
}

/** An `allowedCallers` entry with its own scope ceiling. */
export interface CallerDefinition {
  /** A role or user ARN (`*` in the name) or an account ID. */
  readonly caller: string;
  /** The scopes this caller may ask for: a non-empty subset of the profile's `scopes`. */
  readonly scopes: readonly string[];
}

/** Options of `grantGetToken`. */
export interface GrantGetTokenOptions {
  /**
   * The scopes the grantee may ask for: a non-empty subset of the profile's `scopes`.
   * @default the profile's ceiling (its `scopes`, or else its default `scope`)
   */
  readonly scopes?: readonly string[];
}

/** The profiles file's content: profiles by name, and who may invalidate cached tokens. */
export interface ProfilesDefinition {
  /** Profiles by name (`^[a-z0-9][a-z0-9-]{0,62}$`). */
  readonly profiles: Readonly<Record<string, ProfileDefinition>>;
  /**
   * Who may `DELETE /tokens/{profile}`.
   * @default nobody, unless granted with `grantInvalidate`
   */
  readonly adminCallers?: readonly string[];
}

/** Who may reach the API at all (the function then applies each profile's `allowedCallers`). */
export type ApiAccess =
  | {
      /** 12-digit account IDs whose principals may call. */
      readonly accounts: readonly string[];
    }
  | {
      /** An AWS Organization (`o-...`) whose principals may call. */
      readonly organizationId: string;
    };

/** The API's endpoint type. */
export type ApiEndpoint =
  | { readonly type: "REGIONAL" }
  | {
      readonly type: "PRIVATE";
      /** Interface VPC endpoints (`vpce-...`) allowed to reach the API. */
      readonly vpcEndpointIds: readonly string[];
    };

/** Request limits of the API stage. */
export interface ApiThrottling {
  /**
   * Steady-state requests per second.
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * Burst of requests.
   * @default 100
   */
  readonly burstLimit?: number;
}

/** Properties of {@link CyberArkTokenVending}. */
export interface CyberArkTokenVendingProps {
  /**
   * The profiles by name, as in a profiles file's `profiles` member; validated here, at synth.
   * To use a file, read it in the app and spread the result into the props:
   * `{ ...CyberArkTokenVending.profilesFromFile(path) }`.
   */
  readonly profiles: ProfilesDefinition["profiles"];
  /**
   * Who may `DELETE /tokens/{profile}` (role or user ARNs, `*` in the name, or account IDs).
   * @default nobody, unless granted with `grantInvalidate`
   */
  readonly adminCallers?: readonly string[];
  /**
   * Names this deployment: the API, the dashboard, the alarms and the saved queries' folder, and
   * the `Deployment` dimension of every metric the function emits. Letters, digits, `-` and `_`,
   * at most 64. A dashboard's name is global in the account: give the same name to no two
   * deployments of one account, not even in two regions (synth refuses two constructs of one app
   * with the same name in one account, or where it cannot tell their accounts apart, but cannot
   * see two apps, or one app deployed twice). Deployments in two accounts may share a name.
   * @default derived from the construct's path (the stack's name, then the construct IDs) and
   *   the stack's region (the region deployed to, for a stack without one), so two deployments in
   *   one account never share a name
   */
  readonly name?: string;
  /**
   * What happens to the stateful resources (the table, its key, the token key, the log groups)
   * when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Concurrent executions reserved for the vending function (taken from the account's pool).
   * @default none: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * The function's memory in MB (128 to 10240); CPU grows with it.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * How callers reach the function: `rest-api`, an IAM-only API Gateway REST API (private
   * endpoints, WAF, stage throttling; a charge per request), or `function-url`, a Lambda function
   * URL with `AWS_IAM` auth (no request charge; signed for service `lambda`; reserved concurrency
   * is its only throttle). See README, Choosing a front door.
   * @default "rest-api"
   */
  readonly frontDoor?: FrontDoorKind;
  /**
   * Whether to set API Gateway's account-wide CloudWatch Logs role (`AWS::ApiGateway::Account`),
   * which the stage's access and error logs need. It is one setting per account and region, but
   * each stack that sets it holds its own copy: it is created once per stack (a second construct,
   * or an API in the stack that already sets it, reuses it) and retained on delete, since every
   * API of the account and region relies on it. Give `false` in every stack but one when several
   * stacks of one account and region use the REST API door (each would set the role again, the
   * last deploy winning, and a stack that sets it no longer must keep a role it does not
   * create), and in every stack when the account already has the role from elsewhere (a landing
   * zone, another tool). The function URL door has no API and ignores it.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
  /**
   * Who may reach the front door: the REST API's resource policy, or the function's (with the
   * function URL door).
   * @default the deploying account only
   */
  readonly apiAccess?: ApiAccess;
  /**
   * `REGIONAL`, or `PRIVATE` (reachable only through the given interface VPC endpoints). The
   * REST API door's alone: the function URL door refuses `PRIVATE`.
   * @default { type: "REGIONAL" }
   */
  readonly endpoint?: ApiEndpoint;
  /**
   * SNS topic that alarms notify (on alarm and on recovery), and that receives changes to the
   * token key. Its policy must allow `cloudwatch.amazonaws.com` to publish (and, if it is
   * encrypted, its key must let it use the key), best with `aws:SourceAccount` naming this
   * account. For a topic created in the app, the construct lets `events.amazonaws.com` publish
   * (and use the topic's key) on behalf of this account only; an imported topic's policy is left
   * to its owner and must admit EventBridge too.
   * @default a topic of the construct's own, encrypted with a key of its own (see `alarmTopic`)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * A role that may write the token table's items besides the function's role, for an operator's
   * break-glass repairs. Every other principal is denied item writes by the table's policy.
   * @default only the function's role writes items
   */
  readonly breakGlassRole?: iam.IRole;
  /**
   * Active X-Ray tracing for the function and the API stage.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Retention of the function's log (audit lines) and the API's access log.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Request limits of the API stage. The REST API door's alone: the function URL door refuses
   * it (limit that door with `reservedConcurrency`).
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: ApiThrottling;
}

// From the timing budget, which proves a whole request fits inside it and it inside API Gateway's 29 s.
