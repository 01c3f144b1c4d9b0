/**
 * The local server's log: Powertools' Logger for everything, except the audit line of each
 * request, which is written here in the very shape Powertools writes it (`level`, `message`,
 * `timestamp`, `service`, `sampling_rate`, then the fields). An audit line holds only strings and
 * numbers, so it needs none of the Logger's general work (a replacer guarding against circular
 * objects, errors and bigints, merged context); that work was the largest cost of a warm hit.
 * Of one request's line to the next, most fields are the same (method, profile, caller, outcome,
 * cache level, fingerprint): each field's JSON is kept, by position, and made again only when its
 * name or value changed.
 */
import type { Logger } from "@aws-lambda-powertools/logger";

/** Powertools' Logger, with `info` lines written directly. */
export class LocalLogger {
  readonly #logger: Logger;
  readonly #serviceJson: string;
  #lastMs = Number.NaN;
  #lastIso = "";
  readonly #infoOn: boolean;
  #lastMessage = "";
  #messageJson = '""';
  readonly #fields = new LastMembers();

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
    if (message !== this.#lastMessage) {
      this.#lastMessage = message;
      this.#messageJson = JSON.stringify(message);
    }
    // Powertools' keys first, then the fields, in the object's order, each as JSON.stringify
    // writes it in an object (a field whose value has no JSON, such as undefined, is left out).
    let line = `{"level":"INFO","message":${this.#messageJson},"timestamp":"${this.#timestamp()}","service":${this.#serviceJson},"sampling_rate":0`;
    let at = 0;
    for (const name in attributes) {
      line += this.#fields.member(at, name, attributes[name]);
      at += 1;
    }
    process.stdout.write(`${line}}\n`);
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

/** The JSON members (`,"name":value`) of the last line, by position. */
class LastMembers {
  readonly #names: string[] = [];
  readonly #values: unknown[] = [];
  readonly #members: string[] = [];

  /** The member for `name` and `value` at position `at`: the last one when neither changed. */
  member(at: number, name: string, value: unknown): string {
    // Only a primitive is known unchanged when equal: an object may have changed inside.
    const primitive = value === null || (typeof value !== "object" && typeof value !== "function");
    if (primitive && this.#names[at] === name && Object.is(this.#values[at], value)) {
      return this.#members[at] ?? "";
    }
    const json: string | undefined = JSON.stringify(value);
    const member = json === undefined ? "" : `,${JSON.stringify(name)}:${json}`;
    this.#names[at] = name;
    this.#values[at] = value;
    this.#members[at] = member;
    return member;
  }
}
