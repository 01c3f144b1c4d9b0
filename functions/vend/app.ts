/**
 * The Lambda handlers of each front door: a middy chain around one door adapter and the shared
 * {@link Vending}. The Lambda entry (`handler.ts`) builds them here; the local server serves
 * the same {@link Vending} (and, for a function URL, the same door adapter).
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { VendAnswer } from "./answers.js";
import { functionUrlRequest } from "./function-url-door.js";
import type { OwnFunctionUrl } from "./own-function-url.js";
import { type ApiIdentity, restApiRequest } from "./rest-api-door.js";
import { createVending, type Vending, type VendingDependencies } from "./vending.js";

/** A door's Lambda handler: any event in (it is checked), an HTTP answer out. */
export type DoorHandler = middy.MiddyfiedHandler<unknown, VendAnswer, Error, Context>;

/** The REST API door's handler: only events of `api` are answered, any other `403`. */
export function restApiHandler(vending: Vending, api: ApiIdentity): DoorHandler {
  return middy<unknown, VendAnswer, Error, Context>().handler((event, context) =>
    vending(restApiRequest(event, context, api)),
  );
}

/** What {@link createHandler} wires together. */
export interface HandlerDependencies extends VendingDependencies {
  /** The only API and stage whose events are answered; any other event is refused with `403`. */
  readonly api: ApiIdentity;
}

/** Builds the REST API door's handler over its own {@link Vending}. */
export function createHandler(deps: HandlerDependencies): DoorHandler {
  return restApiHandler(createVending(deps), deps.api);
}

/**
 * The function URL door's handler: only events of the function's own URL are answered. The URL is
 * resolved at the first event (see `own-function-url.ts`), not at cold start.
 */
export function functionUrlHandler(vending: Vending, ownUrl: OwnFunctionUrl): DoorHandler {
  return middy<unknown, VendAnswer, Error, Context>().handler(async (event, context) =>
    vending(functionUrlRequest(event, context, await ownUrl())),
  );
}
