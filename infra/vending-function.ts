/**
 * The vending function's code and configuration: bundled from this repository's sources with the
 * local esbuild, or, in the published package, the bundle built at `npm pack`. Either way the
 * validated profiles travel inside the package. Construct ID: `VendFunction`.
 */
import { cpSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DockerImage, Duration } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import { FUNCTION_TIMEOUT_SECONDS } from "../functions/core/timing.js";
import {
  BUNDLE_FILE,
  FUNCTION_ALIASES,
  FUNCTION_BUNDLE,
  HANDLER_ENTRY,
  PREBUILT_BUNDLE_DIR,
  PROJECT_ROOT,
} from "./function-bundle.js";
import type { ProfilesDefinition } from "./token-vending-props.js";

/** What {@link vendingFunction} builds the function from. */
export interface VendingFunctionOptions {
  readonly profiles: ProfilesDefinition;
  /** The deployment's name, the `Deployment` dimension of the function's metrics. */
  readonly name: string;
  readonly tracing: boolean;
  readonly memorySize: number;
  readonly reservedConcurrency: number | undefined;
  readonly role: iam.Role;
  readonly logGroup: logs.ILogGroup;
  readonly tableName: string;
  readonly tokenKeyArn: string;
}

// From the timing budget, which proves a whole request fits inside it and it inside API Gateway's 29 s.
const FUNCTION_TIMEOUT = Duration.seconds(FUNCTION_TIMEOUT_SECONDS);
const PROFILES_IN_BUNDLE = "profiles.json";

/** The vending function. */
export function vendingFunction(
  scope: Construct,
  options: VendingFunctionOptions,
): lambda.Function {
  const { role, logGroup } = options;
  const common = {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: options.memorySize,
    ...(options.reservedConcurrency === undefined
      ? {}
      : { reservedConcurrentExecutions: options.reservedConcurrency }),
    timeout: FUNCTION_TIMEOUT,
    role,
    logGroup,
    tracing: options.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    description: "Vends CyberArk Identity tokens to allowed IAM callers",
    environment: {
      [FUNCTION_ENV.tableName]: options.tableName,
      [FUNCTION_ENV.kmsKeyId]: options.tokenKeyArn,
      [FUNCTION_ENV.profilesFile]: `/var/task/${PROFILES_IN_BUNDLE}`,
      [FUNCTION_ENV.deploymentName]: options.name,
      POWERTOOLS_SERVICE_NAME: "cyberark-token-vending",
    },
  };
  // The validated profiles travel inside the package, read at cold start.
  const profilesJson = JSON.stringify(options.profiles);

  // From a checkout of the repository: bundle the sources with esbuild.
  if (existsSync(HANDLER_ENTRY)) {
    return new NodejsFunction(scope, "VendFunction", {
      ...common,
      entry: HANDLER_ENTRY,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
      bundling: {
        format: OutputFormat.ESM,
        target: FUNCTION_BUNDLE.target,
        minify: FUNCTION_BUNDLE.minify,
        sourceMap: FUNCTION_BUNDLE.sourceMap,
        mainFields: [...FUNCTION_BUNDLE.mainFields],
        banner: FUNCTION_BUNDLE.banner,
        externalModules: [...FUNCTION_BUNDLE.externalModules],
        esbuildArgs: Object.fromEntries(
          Object.entries(FUNCTION_ALIASES).map(([name, path]) => [`--alias:${name}`, path]),
        ),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_input: string, output: string) => [
            `printf '%s' ${shellQuote(profilesJson)} > ${shellQuote(`${output}/${PROFILES_IN_BUNDLE}`)}`,
          ],
        },
      },
    });
  }
  // From the published package: the bundle built at `npm pack`, plus the profiles; a copy, so
  // the consumer needs neither esbuild nor Docker.
  return new lambda.Function(scope, "VendFunction", {
    ...common,
    handler: "index.handler",
    code: lambda.Code.fromAsset(PREBUILT_BUNDLE_DIR, {
      bundling: {
        image: DockerImage.fromRegistry("public.ecr.aws/docker/library/busybox:stable"),
        command: [
          "sh",
          "-c",
          `cp /asset-input/${BUNDLE_FILE} /asset-output/ && printf '%s' ${shellQuote(profilesJson)} > /asset-output/${PROFILES_IN_BUNDLE}`,
        ],
        local: {
          tryBundle(outputDir: string): boolean {
            cpSync(join(PREBUILT_BUNDLE_DIR, BUNDLE_FILE), join(outputDir, BUNDLE_FILE));
            writeFileSync(join(outputDir, PROFILES_IN_BUNDLE), profilesJson);
            return true;
          },
        },
      },
    }),
  });
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
