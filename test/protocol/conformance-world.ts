/**
 * The real side of the conformance test (`conformance.test.ts`): several `TokenVendor` instances
 * sharing one in-memory profile store, one ledger of issued tokens, one fake CyberArk, one secret
 * source and one fake clock, as function instances share DynamoDB, Secrets Manager and the tenant.
 */
import { cyberArkEndpoints } from "../../functions/adapters/cyberark-endpoints.js";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import type {
  Clock,
  IdentityProvider,
  ProfileEndpoints,
  RevocationRequest,
  TokenRequest,
} from "../../functions/core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
import type { TokenGrant } from "../../functions/core/token.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ACCOUNT, FakeClock, FakeSecrets, MemoryLogger, MemoryStore } from "../support/fakes.js";
import { MemoryIssuedTokens } from "../support/memory-issued-tokens.js";

export const PROFILE = "app";
export const SECRET_ID = "cyberark/app";
/** The lifetime CyberArk grants every token, in seconds. */
export const LIFETIME_S = 600;

/** A profile of a custom OAuth2 app (its tokens can be revoked) with two scope sets, `a` the default. */
export function conformanceConfig(): ProfilesConfig {
  return parseProfilesConfig({
    profiles: {
      [PROFILE]: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: SECRET_ID,
        applicationId: "app_api",
        scope: "a",
        scopes: ["a", "b"],
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/runner`],
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/admin`],
  });
}

/** What CyberArk knows of a token it issued. */
export interface IssuedToken {
  readonly scope: string | undefined;
  readonly clientSecret: string;
  readonly expiresAt: number;
}

/**
 * A CyberArk tenant: asks the request's guard before its attempt (as the real client does before
 * each), issues distinct tokens `tok-1`, `tok-2`, ... granting the scope asked, answers a 429 with
 * `Retry-After` when told to, and records every request and revocation.
 */
export class FakeCyberArk implements IdentityProvider {
  readonly #clock: Clock;
  /** Token requests that were sent (the guard let them go). */
  readonly requests: { readonly scope: string | undefined }[] = [];
  readonly issued = new Map<string, IssuedToken>();
  /** Each revoked token, with when it was first revoked. */
  readonly revoked = new Map<string, number>();
  /** Revocation requests for tokens this tenant never issued. */
  readonly unknownRevocations: string[] = [];
  /** The `Retry-After` (seconds) of a 429 the next token request gets. */
  throttleNext: number | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  endpoints(profile: Parameters<typeof cyberArkEndpoints>[0]): ProfileEndpoints {
    return cyberArkEndpoints(profile);
  }

  async requestToken(request: TokenRequest): Promise<TokenGrant> {
    await request.beforeAttempt?.(1);
    this.requests.push({ scope: request.scope });
    const retryAfter = this.throttleNext;
    if (retryAfter !== undefined) {
      this.throttleNext = undefined;
      throw new UpstreamUnavailableError({
        dependency: "identity",
        kind: "failed",
        detail: "the identity provider answered 429",
        retryAfterSeconds: retryAfter,
        backOffSeconds: retryAfter,
      });
    }
    const accessToken = `tok-${this.issued.size + 1}`;
    const expiresAt = this.#clock.now() + LIFETIME_S * 1000;
    this.issued.set(accessToken, {
      scope: request.scope,
      clientSecret: request.clientSecret,
      expiresAt,
    });
    return {
      accessToken,
      expiresIn: LIFETIME_S,
      ...(request.scope === undefined ? {} : { scope: request.scope }),
    };
  }

  async revokeToken(request: RevocationRequest): Promise<void> {
    if (!this.issued.has(request.token)) this.unknownRevocations.push(request.token);
    if (!this.revoked.has(request.token)) this.revoked.set(request.token, this.#clock.now());
  }
}

/** The shared fakes and the instances of one run. */
export interface ConformanceWorld {
  readonly clock: FakeClock;
  readonly secrets: FakeSecrets;
  readonly store: MemoryStore;
  readonly ledger: MemoryIssuedTokens;
  readonly cyberArk: FakeCyberArk;
  readonly logger: MemoryLogger;
  readonly vendors: readonly TokenVendor[];
  /** Rotates the profile's secret: a new version with a new client secret. */
  rotate(): void;
}

/** `instances` vendors over fresh shared fakes; the secret at version 1. */
export function conformanceWorld(instances: number): ConformanceWorld {
  const clock = new FakeClock();
  const secrets = new FakeSecrets();
  let version = 1;
  const setSecret = () =>
    secrets.set(
      SECRET_ID,
      { client_id: "app@example.com", client_secret: `s${version}` },
      `v${version}`,
    );
  setSecret();
  const store = new MemoryStore();
  const ledger = new MemoryIssuedTokens();
  const cyberArk = new FakeCyberArk(clock);
  const logger = new MemoryLogger();
  const config = conformanceConfig();
  const vendors = Array.from(
    { length: instances },
    () =>
      new TokenVendor({
        config,
        secrets,
        store,
        issued: ledger,
        identity: cyberArk,
        clock,
        logger,
        // Commands run one at a time: no request ever waits for another instance's lease.
        sleep: async () => {
          throw new Error("a request polled the table: no lease should be held between commands");
        },
        random: () => 0.5,
      }),
  );
  return {
    clock,
    secrets,
    store,
    ledger,
    cyberArk,
    logger,
    vendors,
    rotate: () => {
      version += 1;
      setSecret();
    },
  };
}
