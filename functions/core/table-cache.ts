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
import type {
  Logger,
  PlaceAsk,
  PlaceOutcome,
  ProfileRecord,
  TokenPut,
  TokenStore,
  WriteBasis,
} from "./ports.js";
import type { ScopeSet } from "./scope-set.js";
import type { CachedToken } from "./token.js";

const DELETE_RETRY_AFTER_SECONDS = 2;

/** The outcome of reading a scope set's item (and the profile's, `profile`, when it has one). */
export type TableRead =
  | { readonly status: "hit"; readonly token: CachedToken; readonly profile?: ProfileRecord }
  /** `deletedAt`: when a `DELETE` emptied the set's item, if that is why it is empty. */
  | { readonly status: "miss"; readonly deletedAt?: number; readonly profile?: ProfileRecord }
  | { readonly status: "unavailable" };

/**
 * What became of a token's write: stored; refused by the table (it holds a token the write must
 * not replace); refused by a `DELETE`'s record the writer did not read (`deleted`); or failed, so
 * nobody knows.
 */
export type TableWrite = TokenPut | "failed";

/** The shared token table behind a {@link TokenStore}. */
export class TableCache {
  readonly #store: TokenStore;
  readonly #logger: Logger;

  constructor(store: TokenStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Reads the set's token; a store failure is logged and reported as `unavailable`. */
  read(profile: string, set: ScopeSet): Promise<TableRead> {
    return this.#orWarn(
      profile,
      "token table read failed; treating as a miss",
      async (): Promise<TableRead> => {
        const { token, deletedAt, profile: record } = await this.#store.get(profile, set);
        const shared = record === undefined ? {} : { profile: record };
        if (token) return { status: "hit", token, ...shared };
        return { status: "miss", ...(deletedAt === undefined ? {} : { deletedAt }), ...shared };
      },
      { status: "unavailable" },
    );
  }

  /** Stores the set's token; a failure is logged, and the caller decides what to hold in memory. */
  write(
    profile: string,
    set: ScopeSet,
    token: CachedToken,
    basis: WriteBasis,
  ): Promise<TableWrite> {
    const message = "token table write failed; token served from memory only";
    return this.#orWarn<TableWrite>(
      profile,
      message,
      () => this.#store.put(profile, set, token, basis),
      "failed",
    );
  }

  /** Asks the set a place among the profile's live sets; a failure is logged and `unavailable`. */
  takePlace(profile: string, set: ScopeSet, ask: PlaceAsk): Promise<PlaceOutcome | "unavailable"> {
    const message = "live scope sets could not be recorded; this instance counts its own";
    return this.#orWarn<PlaceOutcome | "unavailable">(
      profile,
      message,
      () => this.#store.takePlace(profile, set, ask),
      "unavailable",
    );
  }

  /**
   * The end of the profile's recorded back-off (epoch ms). A failure counts as none: the table is
   * a cache, and the instance still remembers a back-off it was told of itself.
   */
  backOffUntil(profile: string): Promise<number | undefined> {
    const message = "back-off read failed; going by this instance's memory";
    return this.#orWarn(profile, message, () => this.#store.getBackOff(profile), undefined);
  }

  /** Records a back-off for every instance; a failure is logged. */
  recordBackOff(profile: string, until: number): Promise<void> {
    const message = "back-off write failed; only this instance holds back";
    return this.#orWarn(profile, message, () => this.#store.putBackOff(profile, until), undefined);
  }

  /**
   * Deletes every scope set's token of the profile, recording that a `DELETE` was made at `at`,
   * and returns the tokens (those that could be opened). `known`: sets to delete besides those
   * the table lists as live.
   * @throws {UpstreamUnavailableError} when the store failed: the tokens may still be cached.
   */
  async delete(profile: string, at: number, known: readonly ScopeSet[]): Promise<CachedToken[]> {
    try {
      return await this.#store.deleteProfile(profile, at, known);
    } catch (error) {
      throw new UpstreamUnavailableError({
        dependency: "table",
        kind: "failed",
        detail: `token table delete failed: ${describeUnknown(error)}`,
        retryAfterSeconds: DELETE_RETRY_AFTER_SECONDS,
        cause: error,
      });
    }
  }

  // The one place store failures become a warning and a default: the AWS error's name and code
  // only, never its message (which may quote an ARN or a key).
  async #orWarn<T>(
    profile: string,
    message: string,
    work: () => Promise<T>,
    otherwise: T,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.#logger.warn(message, { profile, reason: describeUnknown(error) });
      return otherwise;
    }
  }
}
