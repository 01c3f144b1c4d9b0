/**
 * `lambda:GetFunctionUrlConfig` as one SigV4-signed GET (`/2021-10-31/functions/<name>/url`),
 * signed with Smithy's signer that the bundle already carries. `@aws-sdk/client-lambda` would do
 * the same call but adds its client, its endpoint rules and its command schemas to every cold
 * start of every door, for one call per instance of one door.
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { isRecord } from "../common/records.js";
import type { FunctionUrlConfig, FunctionUrlLookup } from "../vend/own-function-url.js";

/** What {@link lambdaFunctionUrlLookup} needs. */
export interface FunctionUrlLookupOptions {
  /** The function's own name (`AWS_LAMBDA_FUNCTION_NAME`). */
  readonly functionName: string;
  /** The function's region (`AWS_REGION`). */
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** @default `https://lambda.<region>.amazonaws.com` */
  readonly endpoint?: string | undefined;
  /** Milliseconds one attempt may take. */
  readonly timeoutMs: number;
}

/** Thrown when Lambda answers anything but the URL's configuration; says only the status. */
export class FunctionUrlLookupError extends Error {
  override readonly name = "FunctionUrlLookupError";
  readonly code: string;
  constructor(status: number) {
    super(`GetFunctionUrlConfig answered HTTP ${status}`);
    this.code = `HTTP ${status}`;
  }
}

const Sha256 = Hash.bind(null, "sha256");

/** The port over Lambda's control plane. One attempt per call; the door retries on the next event. */
export function lambdaFunctionUrlLookup(options: FunctionUrlLookupOptions): FunctionUrlLookup {
  const signer = new SignatureV4({
    service: "lambda",
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const base = new URL(options.endpoint ?? `https://lambda.${options.region}.amazonaws.com`);
  const url = new URL(
    `/2021-10-31/functions/${encodeURIComponent(options.functionName)}/url`,
    base,
  );
  return async () => {
    const signed = await signer.sign({
      method: "GET",
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers: { host: url.host },
    });
    const { host: _host, ...headers } = signed.headers;
    const response = await fetch(url, {
      headers,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new FunctionUrlLookupError(response.status);
    }
    return configOf(await response.json());
  };
}

function configOf(body: unknown): FunctionUrlConfig {
  if (
    !isRecord(body) ||
    typeof body.FunctionUrl !== "string" ||
    typeof body.AuthType !== "string"
  ) {
    throw new FunctionUrlLookupError(200);
  }
  return { functionUrl: body.FunctionUrl, authType: body.AuthType };
}
