/**
 * The vending handler: the middy chain around one small request function. The Lambda entry
 * (`handler.ts`) and the local server both build it here, so they run the same code.
 */
import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { Clock } from "../core/ports.js";
import { tokenFingerprint } from "../core/token.js";
import type { TokenVendor } from "../core/vendor.js";
import { noContentResponse, parseCommand, tokenResponse } from "./http.js";
import {
  type ApiIdentity,
  type AuditLogger,
  auditLog,
  errorResponses,
  ownApiOnly,
  type VendingContext,
} from "./middlewares.js";

/** What {@link createHandler} wires together. */
export interface HandlerDependencies {
  readonly vendor: TokenVendor;
  readonly clock: Clock;
  readonly logger: AuditLogger;
  /** The only API and stage whose events are answered; any other event is refused with `403`. */
  readonly api: ApiIdentity;
}

/** Builds the API Gateway REST proxy handler. */
export function createHandler(deps: HandlerDependencies) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, VendingContext>()
    .use(auditLog(deps.logger))
    .use(errorResponses(deps.logger))
    .use(ownApiOnly(deps.api))
    .handler(async (event, context) => {
      const command = parseCommand(event);
      if (command.kind === "delete") {
        const { revoked, tokenSha256 } = await deps.vendor.invalidate(command.query);
        context.audit = { revoked, ...(tokenSha256 === undefined ? {} : { tokenSha256 }) };
        return noContentResponse();
      }
      const vended = await deps.vendor.getToken(command.query);
      context.audit = {
        cache: vended.cache,
        tokenSha256: tokenFingerprint(vended.token.accessToken),
      };
      return tokenResponse(command.query.profile, vended, deps.clock.now());
    });
}
