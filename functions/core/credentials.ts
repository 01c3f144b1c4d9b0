/**
 * A profile's client credentials: parsing the secret value and keeping it in the profile's slot
 * for a while, so the warm path reads Secrets Manager only every few minutes.
 */
import { ConfigurationError } from "./errors.js";
import type { ClientCredentials, Clock, SecretSource } from "./ports.js";
import { CREDENTIALS_MAX_AGE_MS } from "./timing.js";

export type { ClientCredentials } from "./ports.js";

/**
 * Parses a `SecretString`: `{"client_id", "client_secret"}` or `{"username", "password"}`.
 * The error never quotes the value.
 * @throws {ConfigurationError}
 */
export function parseClientCredentials(
  secretString: string | undefined,
  version: string,
): ClientCredentials {
  let value: unknown;
  try {
    value = JSON.parse(secretString ?? "");
  } catch {
    throw new ConfigurationError("the secret value is not a JSON object");
  }
  if (typeof value !== "object" || value === null) {
    throw new ConfigurationError("the secret value is not a JSON object");
  }
  const fields = value as Record<string, unknown>;
  const clientId = fields.client_id ?? fields.username;
  const clientSecret = fields.client_id === undefined ? fields.password : fields.client_secret;
  if (!isNonEmptyString(clientId) || !isNonEmptyString(clientSecret)) {
    throw new ConfigurationError(
      'the secret value needs non-empty "client_id" and "client_secret" (or "username" and "password")',
    );
  }
  return { clientId, clientSecret, version };
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

interface Entry {
  readonly credentials: ClientCredentials;
  readonly readAt: number;
  /** The record's life (`records.ts` `stampOf`) last read before this secret read began. */
  readonly stamp?: string;
}

/** Options of {@link SlotCredentials.get}. */
export interface CredentialsReadOptions {
  /** Read the source whatever is held. */
  readonly fresh?: boolean;
  /** Read the source unless the held value was read at or after this time (epoch ms). */
  readonly readSince?: number;
  /**
   * The record's life (incarnation and epoch) just read: credentials read under another are read
   * again, so after "rotate the secret, then DELETE" no token of the old secret is obtained under
   * the new epoch. The new read is tagged with it.
   */
  readonly stamp?: string;
}

/**
 * One profile's credentials, kept for {@link CREDENTIALS_MAX_AGE_MS} with the time the source last
 * returned them. A read that finds a new version (or new values) returns a new object; one that
 * finds the same credentials keeps the old object, so callers can tell by identity, on the warm
 * path, whether theirs are still current.
 */
export class SlotCredentials {
  readonly #source: SecretSource;
  readonly #clock: Clock;
  readonly #secretId: string;
  #entry: Entry | undefined;

  constructor(source: SecretSource, clock: Clock, secretId: string) {
    this.#source = source;
    this.#clock = clock;
    this.#secretId = secretId;
  }

  /** The current credentials without any I/O, or `undefined` when they must be read. */
  peek(): ClientCredentials | undefined {
    const entry = this.#entry;
    if (!entry || this.#clock.now() - entry.readAt >= CREDENTIALS_MAX_AGE_MS) return undefined;
    return entry.credentials;
  }

  /** The credentials last read, however long ago (what the work that just failed used). */
  last(): ClientCredentials | undefined {
    return this.#entry?.credentials;
  }

  /** When `credentials` were last read from the source, while they are the ones held. */
  readAt(credentials: ClientCredentials): number | undefined {
    return this.#entry?.credentials === credentials ? this.#entry.readAt : undefined;
  }

  /** The record's life `credentials` were read under, while they are the ones held. */
  tagOf(credentials: ClientCredentials): string | undefined {
    return this.#entry?.credentials === credentials ? this.#entry.stamp : undefined;
  }

  /**
   * Tags the held credentials with `to` when they are tagged `from`: a write conditioned on the
   * record read as `from` created the life `to`, so nothing came between.
   */
  retag(from: string, to: string): void {
    const entry = this.#entry;
    if (entry?.stamp === from) this.#entry = { ...entry, stamp: to };
  }

  /** The current credentials, read from the source when missing, too old, or as `options` ask. */
  async get(options: CredentialsReadOptions = {}): Promise<ClientCredentials> {
    const entry = this.#entry;
    const { stamp } = options;
    const recentEnough =
      entry !== undefined &&
      entry.readAt >= (options.readSince ?? 0) &&
      (stamp === undefined || entry.stamp === stamp);
    const held = options.fresh || !recentEnough ? undefined : this.peek();
    if (held) return held;
    const readAt = this.#clock.now();
    const { secretString, versionId } = await this.#source.read(this.#secretId);
    const read = parseClientCredentials(secretString, versionId);
    const credentials =
      entry && sameCredentials(entry.credentials, read) ? entry.credentials : read;
    // A read without a stamp keeps the last one: the record read before it is no older.
    const tag = stamp ?? entry?.stamp;
    this.#entry = { credentials, readAt, ...(tag === undefined ? {} : { stamp: tag }) };
    return credentials;
  }
}

function sameCredentials(a: ClientCredentials, b: ClientCredentials): boolean {
  return a.version === b.version && a.clientId === b.clientId && a.clientSecret === b.clientSecret;
}
