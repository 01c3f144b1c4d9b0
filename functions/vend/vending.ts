/**
 * One request, from whichever door, to one answer: the transport-free heart of the edge. It
 * parses the command, runs it on the vendor, turns every error into the contract's JSON and
 * writes the one audit line. Each door only translates its event into a {@link DoorRequest}.
 */
import { AccessDeniedError, VendingError } from "../core/errors.js";
import type { Clock } from "../core/ports.js";
import { tokenFingerprint } from "../core/token.js";
import type { TokenVendor } from "../core/vendor.js";
import { errorAnswer, noContentAnswer, tokenAnswer, type VendAnswer } from "./answers.js";
import { type AuditFields, type AuditLogger, auditLine, stackFrames } from "./audit.js";
import { parseCommand, type VendCommand, type VendRequest } from "./command.js";
import { InternalError } from "./request-errors.js";

/** A request as a door hands it over: the command's fields, the request ID, the door's verdict. */
export interface DoorRequest extends VendRequest {
  /** The ID the caller can quote: the front door's, else the invocation's. */
  readonly requestId: string;
  /**
   * Why the door refuses the request (an event that did not come through it), for the log;
   * `undefined` when it does not. A refused request is answered `403` and audited, nothing else.
   */
  readonly refusal?: string | VendingError;
}

/** What {@link createVending} wires together. */
export interface VendingDependencies {
  readonly vendor: TokenVendor;
  readonly clock: Clock;
  readonly logger: AuditLogger;
}

/** Answers one request. Never throws: every failure is an answer. */
export type Vending = (request: DoorRequest) => Promise<VendAnswer>;

/** Builds the request handling every door shares. */
export function createVending(deps: VendingDependencies): Vending {
  const { vendor, clock, logger } = deps;
  // A warm instance serves the same token many times over: its fingerprint is hashed once.
  let last = { token: "", sha256: "" };
  const fingerprint = (token: string): string => {
    if (last.token !== token) last = { token, sha256: tokenFingerprint(token) };
    return last.sha256;
  };
  return async (request) => {
    const audit: AuditFields = {};
    let answer: VendAnswer;
    let failure: VendingError | undefined;
    try {
      const command = commandOf(request);
      if (command.kind === "delete") {
        const { revoked, tokenSha256, revokedCount, skipped } = await vendor.invalidate(
          command.query,
        );
        audit.revoked = revoked;
        if (tokenSha256 !== undefined) audit.tokenSha256 = tokenSha256;
        if (revokedCount !== undefined) audit.revokedCount = revokedCount;
        if (skipped !== undefined) audit.skipped = skipped;
        answer = noContentAnswer();
      } else {
        // The caller's own ask, so that a refused one is on the line too.
        if (command.query.scope !== undefined) audit.asked = command.query.scope;
        const vended = await vendor.getToken(command.query);
        audit.cache = vended.cache;
        audit.tokenSha256 = fingerprint(vended.token.accessToken);
        audit.asked = vended.asked;
        if (vended.token.scope !== undefined) audit.granted = vended.token.scope;
        answer = tokenAnswer(command.query.profile, vended, clock.now());
      }
    } catch (error) {
      failure = error instanceof VendingError ? error : new InternalError(error);
      if (failure !== error) {
        logger.error("unexpected error", { reason: failure.message, stack: stackFrames(error) });
      }
      answer = errorAnswer(failure, request.requestId);
    }
    logger.info("token request", auditLine(request, answer.statusCode, failure, audit));
    return answer;
  };
}

// The command a request asks for, unless its door refused it.
function commandOf(request: DoorRequest): VendCommand {
  const { refusal } = request;
  if (refusal !== undefined) {
    throw refusal instanceof VendingError ? refusal : new AccessDeniedError(refusal);
  }
  return parseCommand(request);
}
