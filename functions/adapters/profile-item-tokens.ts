/**
 * The tokens of a profile's item as the core sees them ({@link StoredToken}): a token read from the
 * item is opened only when the core asks (one KMS call per data key, not per read), and served
 * only when its sealed stamp agrees with where it is and what the item says of it; a token just
 * obtained is sealed when it is written. Tokens of sets a write does not change are written back
 * as the exact attribute read, never re-sealed.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { describeUnknown } from "../core/errors.js";
import type { Logger, StoredToken, TokenStamp } from "../core/ports.js";
import type { TokenEntry } from "../core/profile-record.js";
import type { CachedToken } from "../core/token.js";
import { type ItemToken, TOKEN_FIELDS, tokenAttribute } from "./profile-item-codec.js";
import { openToken, sealToken } from "./sealed-token-record.js";
import { DoesNotOpenError, type TokenCipher } from "./token-cipher.js";

/** Where a token lives: the cipher, the item's key and the profile (for the log). */
export interface TokenPlace {
  readonly cipher: TokenCipher;
  readonly logger: Logger;
  readonly profile: string;
  readonly itemKey: string;
}

/** Why a token read from the item is not served. */
export type TokenMiss =
  | "does not open"
  | "malformed"
  | "sealed for another set"
  | "sealed in another incarnation"
  | "hints edited";

/** A token as read from the item: opened lazily, checked against its hints and the record. */
export class SealedToken implements StoredToken {
  readonly #place: TokenPlace;
  readonly #tag: string;
  readonly #entry: TokenEntry<ItemToken>;
  readonly #incarnation: string | undefined;
  #opening: Promise<CachedToken | undefined> | undefined;

  constructor(
    place: TokenPlace,
    tag: string,
    entry: TokenEntry<ItemToken>,
    incarnation: string | undefined,
  ) {
    this.#place = place;
    this.#tag = tag;
    this.#entry = entry;
    this.#incarnation = incarnation;
  }

  /** The entry's attribute exactly as read. */
  get attribute(): AttributeValue {
    return this.#entry.token.attribute;
  }

  /** Whether this token was read from `itemKey`'s set `tag` (so it may be written back there). */
  belongsTo(itemKey: string, tag: string): boolean {
    return this.#place.itemKey === itemKey && this.#tag === tag;
  }

  open(): Promise<CachedToken | undefined> {
    if (!this.#opening) {
      this.#opening = this.#open();
      // A key service failure is not remembered: the next ask tries again.
      this.#opening.catch(() => {
        this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  async #open(): Promise<CachedToken | undefined> {
    const { cipher, itemKey } = this.#place;
    let opened: Awaited<ReturnType<typeof openToken>>;
    try {
      opened = await openToken(cipher, itemKey, this.#tag, this.#entry.token.sealed);
    } catch (error) {
      if (!(error instanceof DoesNotOpenError)) throw error;
      return this.#miss("does not open", error);
    }
    if (!opened) return this.#miss("malformed");
    if (opened.tag !== this.#tag) return this.#miss("sealed for another set");
    if (opened.incarnation !== this.#incarnation)
      return this.#miss("sealed in another incarnation");
    if (opened.epoch !== this.#entry.epoch || opened.token.expiresAt !== this.#entry.expiresAt) {
      return this.#miss("hints edited");
    }
    return opened.token;
  }

  #miss(reason: TokenMiss, cause?: unknown): undefined {
    this.#place.logger.warn(
      "cached token in the profile's item is not usable; treating as a miss",
      {
        profile: this.#place.profile,
        reason,
        ...(cause === undefined ? {} : { cause: describeUnknown(cause) }),
      },
    );
    return undefined;
  }
}

/** A token just obtained: served as is, sealed with its stamp when written. */
export class FreshToken implements StoredToken {
  readonly token: CachedToken;
  readonly tag: string;
  readonly stamp: TokenStamp;

  constructor(tag: string, token: CachedToken, stamp: TokenStamp) {
    this.tag = tag;
    this.token = token;
    this.stamp = stamp;
  }

  async open(): Promise<CachedToken> {
    return this.token;
  }
}

/**
 * The attribute a write stores for the token of `tag`: the one read, untouched, or a fresh one
 * sealed now. `undefined`: nothing to store (a token of another store that does not open).
 */
export async function tokenAttributeFor(
  place: TokenPlace,
  tag: string,
  entry: TokenEntry<StoredToken>,
  incarnation: string,
): Promise<AttributeValue | undefined> {
  const { token } = entry;
  if (token instanceof SealedToken) {
    // Never moved: a token read from another set or item is not re-sealed where it does not belong.
    return token.belongsTo(place.itemKey, tag) ? token.attribute : undefined;
  }
  // A fresh token keeps its own stamp: one stamped for another life of the item never opens here.
  const stamp =
    token instanceof FreshToken
      ? { ...token.stamp, tag: token.tag }
      : { epoch: entry.epoch, incarnation, tag };
  const opened = await token.open();
  if (!opened) return undefined;
  const sealed = await sealToken(place.cipher, place.itemKey, opened, stamp);
  return tokenAttribute(sealed, entry.epoch, entry.expiresAt);
}

/** The sealed string of a token entry's attribute, when it has one. */
export function sealedOf(value: AttributeValue): string | undefined {
  return value.M?.[TOKEN_FIELDS.sealed]?.S;
}
