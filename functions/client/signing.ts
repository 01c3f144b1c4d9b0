/**
 * SigV4 signing of a request to the API with Smithy's maintained signer (the same code the AWS SDK
 * signs with): for `execute-api` (the REST API), or for `lambda` when the URL is a Lambda function
 * URL (`https://<id>.lambda-url.<region>.on.aws/`).
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { InvalidApiUrlError, isLoopback } from "./api-url.js";

/** What {@link signRequest} needs besides the request. */
export interface SigningOptions {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** @default now */
  readonly signingDate?: Date;
}

const Sha256 = Hash.bind(null, "sha256");

/**
 * The headers to send with a body-less `method` request to `url`, `Authorization` included
 * (`Host` is signed too, and left for fetch to send).
 */
export async function signRequest(
  method: string,
  url: URL,
  options: SigningOptions,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: serviceFor(url),
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
    // No x-amz-content-sha256 header: execute-api does not need it, and botocore and curl omit it.
    applyChecksum: false,
  });
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { host: url.host },
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  // fetch sends Host itself, from the same URL.
  const { host: _host, ...headers } = signed.headers;
  return headers;
}

const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/** The service a request to `url` is signed for: `lambda` for a function URL, else `execute-api`. */
export function serviceFor(url: URL): "lambda" | "execute-api" {
  return FUNCTION_URL_HOST.test(url.hostname) ? "lambda" : "execute-api";
}

/**
 * The region to sign for: the option, else the API's host name, else `AWS_REGION` or
 * `AWS_DEFAULT_REGION`; a loopback URL (the local server, which does not check signatures) falls
 * back to `us-east-1`.
 * @throws {InvalidApiUrlError} when none of them tells (a custom domain, with no region given).
 */
export function regionFor(
  url: URL,
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const region =
    option ??
    EXECUTE_API_HOST.exec(url.hostname)?.[1] ??
    FUNCTION_URL_HOST.exec(url.hostname)?.[1] ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION;
  if (region) return region;
  if (isLoopback(url)) return "us-east-1";
  throw new InvalidApiUrlError(
    `cannot tell the AWS region of ${url.origin}: pass the region option (--region for the CLI) or set AWS_REGION`,
  );
}
