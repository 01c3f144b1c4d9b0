/**
 * The scheduled renewal's event, and the Lambda entry's routing between it and the front door.
 *
 * The schedule invokes the function with {@link RENEWAL_EVENT}; the front door (the REST API or
 * the function URL) with its own event. The two are told apart by shape, and only an exact renewal
 * event is a renewal: anything else goes to the door's handler, which refuses an event that did
 * not come through it (`403`).
 * A renewal run answers with counts only, so whoever may invoke the function directly learns
 * nothing from it but how many profiles were renewed.
 */
import type { Context } from "aws-lambda";
import { isRecord } from "../common/records.js";
import type { RenewalReport } from "../core/vendor-types.js";

/** The event the schedule sends: the whole of it, nothing more. */
export const RENEWAL_EVENT = {
  source: "cyberark-token-vending",
  action: "renew-prewarm",
} as const;

/** The type of {@link RENEWAL_EVENT}. */
export type RenewalEvent = typeof RENEWAL_EVENT;

/** Whether `event` is exactly {@link RENEWAL_EVENT} (same keys, same values). */
export function isRenewalEvent(event: unknown): event is RenewalEvent {
  if (!isRecord(event)) return false;
  const keys = Object.keys(event);
  return (
    keys.length === Object.keys(RENEWAL_EVENT).length &&
    keys.every(
      (key) =>
        Object.hasOwn(RENEWAL_EVENT, key) &&
        event[key] === RENEWAL_EVENT[key as keyof RenewalEvent],
    )
  );
}

/** What {@link routeEvents} dispatches to. */
export interface EventRoutes<ApiEvent, ApiResult> {
  /** The front door's handler: every event that is not a renewal event. */
  readonly api: (event: ApiEvent, context: Context) => Promise<ApiResult>;
  /** One scheduled renewal run (`TokenVendor.renewScheduled`); never throws. */
  readonly renew: () => Promise<RenewalReport>;
  /** Where the run's counts are logged. */
  readonly logger: RenewalLogger;
}

/** The log a renewal run writes its counts to. */
export interface RenewalLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
}

/** The routed entry: a renewal event answers counts, an API event the API handler's result. */
export interface RoutedHandler<ApiEvent, ApiResult> {
  (event: RenewalEvent, context: Context): Promise<RenewalReport>;
  (event: ApiEvent, context: Context): Promise<ApiResult>;
}

/**
 * The Lambda entry: a renewal event runs one renewal and answers its counts; any other event goes
 * to the door's handler unchanged.
 */
export function routeEvents<ApiEvent, ApiResult>(
  routes: EventRoutes<ApiEvent, ApiResult>,
): RoutedHandler<ApiEvent, ApiResult> {
  return (async (event: ApiEvent | RenewalEvent, context: Context) => {
    // Anything else, a payload that is not even an object (`null`, a number, invoked by hand)
    // included, goes to the door's handler, which refuses what did not come through it.
    if (!isRenewalEvent(event)) return routes.api(event, context);
    const report = await routes.renew();
    // Counts only: the failures themselves were logged, per profile, by the renewal.
    if (report.failed > 0) routes.logger.warn("scheduled renewal", { ...report });
    else routes.logger.info("scheduled renewal", { ...report });
    return report;
  }) as RoutedHandler<ApiEvent, ApiResult>;
}
