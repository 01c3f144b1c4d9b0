/**
 * The AWS credentials of a Lambda function: the runtime puts the execution role's credentials in
 * the environment, and the SDK's default chain finds them there first. The function bundle uses
 * this module in place of `@aws-sdk/credential-provider-node`, so the cold start does not load
 * the chain's other providers (SSO, profiles, processes, web identity, instance metadata) and the
 * STS, SSO and sign-in clients they carry, none of which can ever answer in Lambda.
 */

/** Credentials as the SDK expects them. */
export interface EnvironmentCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Thrown when the environment holds no credentials (never in Lambda). */
export class MissingCredentialsError extends Error {
  override readonly name = "MissingCredentialsError";
  constructor() {
    super("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
  }
}

/**
 * Same signature as `@aws-sdk/credential-provider-node`'s `defaultProvider`: a provider of the
 * environment's credentials, as the default chain's first link (`fromEnv`) reads them.
 */
export function defaultProvider(_init?: unknown): () => Promise<EnvironmentCredentials> {
  return async () => {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = process.env;
    const expiration = process.env.AWS_CREDENTIAL_EXPIRATION;
    if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) throw new MissingCredentialsError();
    return {
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
      ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
      ...(expiration ? { expiration: new Date(expiration) } : {}),
    };
  };
}
