/**
 * What the CyberArk Identity simulator is told (its clients, applications, token lifetime and
 * latency) and what it records of each request. Never deployed.
 */

/** A confidential client the simulated tenant knows. */
export interface SimulatedClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A custom OAuth2 application (`/oauth2/token/{id}`). */
export interface SimulatedApplication {
  /**
   * Scopes it may grant: a request asking for any other (each space-separated scope is checked) is
   * `invalid_scope`. Absent: any scope.
   */
  readonly scopes?: readonly string[];
  /** Scopes granted to a request that asks for none. @default none: the answer has no `scope` */
  readonly defaultScopes?: readonly string[];
  /** Grants differently from what was asked, on every token request (a test's knob). */
  readonly grant?: SimulatedGrant;
}

/**
 * A grant other than what was asked, for tests: narrower (`omit`) or broader (`add`), as a
 * tenant whose app settings differ from the profile's might answer, or with another lifetime.
 */
export interface SimulatedGrant {
  /** Asked (or default) scopes left out of the grant. */
  readonly omit?: readonly string[];
  /** Scopes granted although not asked, even ones the app does not allow. */
  readonly add?: readonly string[];
  /** The token's lifetime in seconds, instead of the tenant's `tokenLifetimeSeconds`. */
  readonly expiresIn?: number;
}

/** Options of `IdentitySimulator`. */
export interface IdentitySimulatorOptions {
  readonly clients: readonly SimulatedClient[];
  /** @default {} */
  readonly applications?: Readonly<Record<string, SimulatedApplication>>;
  /** Lifetime of issued tokens. @default 3600 */
  readonly tokenLifetimeSeconds?: number;
  /** Milliseconds every granted token takes, as a real tenant's would. @default 0 */
  readonly tokenLatencyMs?: number;
  /** Serve HTTPS with this key and certificate; plain HTTP without. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Epoch milliseconds; tokens' `iat`/`exp` come from it. @default Date.now */
  readonly now?: () => number;
}

/** What the simulator saw of one token or revocation request (never the secret). */
export interface RecordedRequest {
  readonly path: string;
  readonly clientAuth: "body" | "basic" | "none";
  readonly clientId: string | undefined;
  readonly scope: string | undefined;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  /** The `token` form field of a revocation. */
  readonly token?: string | undefined;
}
