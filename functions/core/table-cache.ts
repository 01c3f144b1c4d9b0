/**
 * The table level of the cache, as the vendor sees it: every read is a hit, a miss, or
 * "unavailable", and failed writes are logged here, so the vendor never catches a store error.
 *
 * Policy: the table is a cache. When it cannot be read, the vendor decides what to serve from
 * what it knows (a held token, or CyberArk); when it cannot be written, the token is still
 * returned and held in memory. Only `delete` reports failure: a `DELETE` that did not reach the
 * table must not answer success, and the caller is told to retry.
 */
import { describeUnknown, UpstreamUnavailableError } from "./errors.js";
import type { Logger, TokenStore } from "./ports.js";
import type { CachedToken } from "./token.js";

const DELETE_RETRY_AFTER_SECONDS = 2;

/** The outcome of reading a profile's item. */
export type TableRead =
  | { readonly status: "hit"; readonly token: CachedToken }
  | { readonly status: "miss" }
  | { readonly status: "unavailable" };

/** The shared token table behind a {@link TokenStore}. */
export class TableCache {
  readonly #store: TokenStore;
  readonly #logger: Logger;

  constructor(store: TokenStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Reads the profile's token; a store failure is logged and reported as `unavailable`. */
  async read(profile: string): Promise<TableRead> {
    try {
      const token = await this.#store.get(profile);
      return token ? { status: "hit", token } : { status: "miss" };
    } catch (error) {
      this.#logger.warn("token table read failed; treating as a miss", {
        profile,
        reason: describeUnknown(error),
      });
      return { status: "unavailable" };
    }
  }

  /** The profile's token, or `undefined` on a miss or a failure. */
  async token(profile: string): Promise<CachedToken | undefined> {
    const read = await this.read(profile);
    return read.status === "hit" ? read.token : undefined;
  }

  /** Stores the token; a failure is logged, and the token is still served from memory. */
  async write(profile: string, token: CachedToken): Promise<void> {
    try {
      await this.#store.put(profile, token);
    } catch (error) {
      this.#logger.warn("token table write failed; token served from memory only", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }

  /**
   * The end of the profile's recorded back-off (epoch ms). A failure counts as none: the table is
   * a cache, and the instance still remembers a back-off it was told of itself.
   */
  async backOffUntil(profile: string): Promise<number | undefined> {
    try {
      return await this.#store.getBackOff(profile);
    } catch (error) {
      this.#logger.warn("back-off read failed; going by this instance's memory", {
        profile,
        reason: describeUnknown(error),
      });
      return undefined;
    }
  }

  /** Records a back-off for every instance; a failure is logged. */
  async recordBackOff(profile: string, until: number): Promise<void> {
    try {
      await this.#store.putBackOff(profile, until);
    } catch (error) {
      this.#logger.warn("back-off write failed; only this instance holds back", {
        profile,
        reason: describeUnknown(error),
      });
    }
  }

  /**
   * Deletes the profile's token, and returns it (when it could be opened).
   * @throws {UpstreamUnavailableError} when the store failed: the token may still be cached.
   */
  async delete(profile: string): Promise<CachedToken | undefined> {
    try {
      return await this.#store.delete(profile);
    } catch (error) {
      throw new UpstreamUnavailableError(
        `token table delete failed: ${describeUnknown(error)}`,
        DELETE_RETRY_AFTER_SECONDS,
        error,
      );
    }
  }
}
