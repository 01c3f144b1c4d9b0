/**
 * Envelope encryption of cached token records at rest: no plaintext token in DynamoDB, and no
 * field of the record that can be edited without the key.
 *
 * AES-256-GCM from node:crypto under a data key, with a caller-given context (the token store
 * passes the item's key) as associated data, so a ciphertext moved to another item does not open,
 * and GCM's tag makes any edit of the ciphertext fail to open. We compose
 * node:crypto ourselves instead of using the AWS Encryption SDK because that SDK would multiply
 * the function bundle (target: 200 KB) for the same construction.
 *
 * Format: `v1.<wrapped data key>.<iv>.<ciphertext+tag>`, each part base64url.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * A sealed value that does not open, for a reason of its own: malformed, edited, sealed under
 * another context, or under a data key that is not this service's. Not thrown when the key
 * service merely failed (throttled, unreachable): the value may open on another try.
 */
export class DoesNotOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DoesNotOpenError";
  }
}

/** Seals and opens token strings; `context` must be equal on both sides. */
export interface TokenCipher {
  seal(plaintext: string, context: string): Promise<string>;
  /**
   * @throws {DoesNotOpenError} when the value was tampered with, sealed under another context, or
   *   by another key; any other error when the key service failed.
   */
  open(sealed: string, context: string): Promise<string>;
  /** Whether opening `sealed` needs no call to the key service: its data key is already held. */
  holdsKeyOf(sealed: string): boolean;
}

/** Produces data keys and unwraps them (KMS in the cloud, a process-local key in the local server). */
export interface DataKeyProvider {
  generate(): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }>;
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
}

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A data key is reused for this long: one KMS call per instance per interval, not per write. */
export const DATA_KEY_REUSE_MS = 60 * 60_000;
const UNWRAPPED_KEYS_KEPT = 16;

/** AES-256-GCM envelope encryption over a {@link DataKeyProvider}. */
export class EnvelopeCipher implements TokenCipher {
  readonly #keys: DataKeyProvider;
  readonly #now: () => number;
  #current: { plaintext: Uint8Array; wrapped: string; createdAt: number } | undefined;
  readonly #unwrapped = new Map<string, Promise<Uint8Array>>();

  constructor(keys: DataKeyProvider, now: () => number = Date.now) {
    this.#keys = keys;
    this.#now = now;
  }

  async seal(plaintext: string, context: string): Promise<string> {
    const key = await this.#dataKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key.plaintext, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return [VERSION, key.wrapped, iv.toString("base64url"), body.toString("base64url")].join(".");
  }

  async open(sealed: string, context: string): Promise<string> {
    const [version, wrapped, ivText, bodyText, ...rest] = sealed.split(".");
    if (version !== VERSION || !wrapped || !ivText || !bodyText || rest.length > 0) {
      throw new DoesNotOpenError("not a sealed token");
    }
    const iv = Buffer.from(ivText, "base64url");
    const body = Buffer.from(bodyText, "base64url");
    if (iv.length !== IV_BYTES || body.length <= TAG_BYTES) {
      throw new DoesNotOpenError("not a sealed token");
    }
    const decipher = createDecipheriv("aes-256-gcm", await this.#unwrap(wrapped), iv);
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      throw new DoesNotOpenError("the sealed value does not authenticate under this context");
    }
  }

  holdsKeyOf(sealed: string): boolean {
    const [version, wrapped] = sealed.split(".", 2);
    return version === VERSION && wrapped !== undefined && this.#unwrapped.has(wrapped);
  }

  async #dataKey(): Promise<{ plaintext: Uint8Array; wrapped: string }> {
    const now = this.#now();
    if (this.#current && now - this.#current.createdAt < DATA_KEY_REUSE_MS) return this.#current;
    const generated = await this.#keys.generate();
    const wrapped = Buffer.from(generated.wrapped).toString("base64url");
    this.#current = { plaintext: generated.plaintext, wrapped, createdAt: now };
    this.#unwrapped.set(wrapped, Promise.resolve(generated.plaintext));
    return this.#current;
  }

  // Unwrapped keys are kept (a few), so reading items written by this or other instances costs one
  // KMS call per data key, not per read. A failed unwrap is not kept.
  #unwrap(wrapped: string): Promise<Uint8Array> {
    const known = this.#unwrapped.get(wrapped);
    if (known) return known;
    const unwrapping = this.#keys.unwrap(Buffer.from(wrapped, "base64url"));
    unwrapping.catch(() => this.#unwrapped.delete(wrapped));
    if (this.#unwrapped.size >= UNWRAPPED_KEYS_KEPT) {
      const oldest = this.#unwrapped.keys().next().value;
      if (oldest !== undefined) this.#unwrapped.delete(oldest);
    }
    this.#unwrapped.set(wrapped, unwrapping);
    return unwrapping;
  }
}

/** A data key provider for the local server: one random key per process, never persisted. */
export class ProcessKeyProvider implements DataKeyProvider {
  readonly #key = randomBytes(32);

  async generate(): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    return { plaintext: this.#key, wrapped: Buffer.from("process-local") };
  }

  async unwrap(wrapped: Uint8Array): Promise<Uint8Array> {
    if (Buffer.from(wrapped).toString() !== "process-local") {
      throw new DoesNotOpenError("unknown data key");
    }
    return this.#key;
  }
}
