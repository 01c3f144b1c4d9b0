/**
 * The local server's log: Powertools' Logger for everything, except the audit line of each
 * request, which is written here in the very shape Powertools writes it (`level`, `message`,
 * `timestamp`, `service`, `sampling_rate`, then the fields). An audit line holds only strings and
 * numbers, so it needs none of the Logger's general work (a replacer guarding against circular
 * objects, errors and bigints, merged context); that work was the largest cost of a warm hit.
 */
import type { Logger } from "@aws-lambda-powertools/logger";

/** Powertools' Logger, with `info` lines written directly. */
export class LocalLogger {
  readonly #logger: Logger;
  readonly #serviceJson: string;
  #lastMs = Number.NaN;
  #lastIso = "";
  readonly #infoOn: boolean;

  constructor(serviceName: string, logger: Logger) {
    this.#logger = logger;
    this.#serviceJson = JSON.stringify(serviceName);
    // The level Powertools read from the environment (POWERTOOLS_LOG_LEVEL and the like).
    const level = logger.getLevelName();
    this.#infoOn = level === "TRACE" || level === "DEBUG" || level === "INFO";
  }

  /** An `INFO` line of flat fields (strings, numbers, booleans). */
  info(message: string, attributes: Record<string, unknown>): void {
    if (!this.#infoOn) return;
    // Powertools' keys first, then the fields: the fields' JSON with its `{` cut off.
    const fields = JSON.stringify(attributes);
    const rest = fields === "{}" ? "}" : `,${fields.slice(1)}`;
    process.stdout.write(
      `{"level":"INFO","message":${JSON.stringify(message)},"timestamp":"${this.#timestamp()}","service":${this.#serviceJson},"sampling_rate":0${rest}\n`,
    );
  }

  // ISO 8601 in UTC, as Powertools writes it; made once per millisecond.
  #timestamp(): string {
    const now = Date.now();
    if (now !== this.#lastMs) {
      this.#lastMs = now;
      this.#lastIso = new Date(now).toISOString();
    }
    return this.#lastIso;
  }

  warn(message: string, attributes: Record<string, unknown>): void {
    this.#logger.warn(message, attributes);
  }

  error(message: string, attributes: Record<string, unknown>): void {
    this.#logger.error(message, attributes);
  }
}
