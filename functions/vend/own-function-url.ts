/**
 * The function URL door's knowledge of its own URL. The URL is created after the function (it
 * names the function), so the deployment cannot put its identity in the function's environment
 * without a cycle: the function asks Lambda (`GetFunctionUrlConfig` on its own name) at the first
 * URL event of each instance, and keeps the answer for the instance's life. The lookup sits behind
 * {@link FunctionUrlLookup}, so tests and the local server hand in a fixed configuration.
 */
import { logReason, UpstreamUnavailableError, type VendingError } from "../core/errors.js";
import type { FunctionUrlIdentity } from "./function-url-door.js";

/** What `GetFunctionUrlConfig` says of the function's URL, as far as the door needs it. */
export interface FunctionUrlConfig {
  /** `https://<id>.lambda-url.<region>.on.aws/` */
  readonly functionUrl: string;
  /** `AWS_IAM` or `NONE`. */
  readonly authType: string;
}

/** The port: reads the function's own URL configuration. Throws when it cannot. */
export type FunctionUrlLookup = () => Promise<FunctionUrlConfig>;

/** Where a failed lookup is logged. */
export interface LookupLogger {
  error(message: string, attributes: Record<string, unknown>): void;
}

/** The URL whose events to answer, or why no event can be answered now. */
export type UrlVerdict = FunctionUrlIdentity | { readonly refusal: string | VendingError };

/** Resolves the door's verdict; one lookup at a time, at most one that succeeds per instance. */
export type OwnFunctionUrl = () => Promise<UrlVerdict>;

// A failed lookup is Lambda's control plane failing, not the caller: retry soon.
const RETRY_AFTER_SECONDS = 1;

/**
 * The instance's own URL, looked up once: concurrent first requests share one lookup, a success
 * is kept for good, a failure is not kept (the next request looks again) and answers `503`.
 * A URL whose auth type is not `AWS_IAM` refuses every event: its caller identity is unsigned.
 */
export function ownFunctionUrl(lookup: FunctionUrlLookup, logger: LookupLogger): OwnFunctionUrl {
  let pending: Promise<UrlVerdict> | undefined;
  return () => {
    pending ??= lookup().then(verdictOf, (error: unknown) => {
      pending = undefined;
      logger.error("function URL lookup failed", { reason: logReason(error) });
      return {
        refusal: new UpstreamUnavailableError({
          dependency: "function-url",
          kind: "failed",
          detail: `GetFunctionUrlConfig failed: ${logReason(error)}`,
          retryAfterSeconds: RETRY_AFTER_SECONDS,
          cause: error,
        }),
      };
    });
    return pending;
  };
}

function verdictOf(config: FunctionUrlConfig): UrlVerdict {
  if (config.authType !== "AWS_IAM") {
    return { refusal: `function URL auth type is ${config.authType}, not AWS_IAM` };
  }
  const host = URL.canParse(config.functionUrl) ? new URL(config.functionUrl).hostname : "";
  const urlId = host.split(".")[0] ?? "";
  if (!host || !urlId) return { refusal: "function URL configuration names no URL" };
  return { urlId, domainName: host };
}
