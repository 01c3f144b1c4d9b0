/**
 * The tokens of the CyberArk Identity simulator: JWT-shaped (HS256 under a per-process key, with
 * `iat`, `exp` and `jti`), and a memory of revoked ones, so a test can show a token is dead rather
 * than only that a revocation request was sent. Never deployed.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

/** Issues tokens and tells whether one is alive: signed here, unexpired and not revoked. */
export class SimulatedTokens {
  readonly #signingKey = randomBytes(32);
  readonly #revoked = new Set<string>();
  readonly #issuer: () => string | undefined;
  readonly #now: () => number;

  /** `issuer` is the tenant URL (known once started); `now` gives epoch milliseconds. */
  constructor(issuer: () => string | undefined, now: () => number) {
    this.#issuer = issuer;
    this.#now = now;
  }

  /** A new signed token for `subject`. */
  issue(subject: string, scope: string | undefined, lifetimeSeconds: number): string {
    const iat = Math.floor(this.#now() / 1000);
    const header = encodeJson({ alg: "HS256", typ: "JWT" });
    const payload = encodeJson({
      iss: this.#issuer(),
      sub: subject,
      iat,
      exp: iat + lifetimeSeconds,
      jti: randomUUID(),
      ...(scope === undefined ? {} : { scope }),
    });
    return `${header}.${payload}.${this.#sign(`${header}.${payload}`)}`;
  }

  /** Remembers `token` as revoked; unknown tokens are accepted too, as RFC 7009 asks. */
  revoke(token: string): void {
    this.#revoked.add(token);
  }

  /** Whether `token` was revoked. */
  isRevoked(token: string): boolean {
    return this.#revoked.has(token);
  }

  /** The claims of a live token, or `undefined` for a revoked, expired, foreign or malformed one. */
  claimsOf(token: string): Record<string, unknown> | undefined {
    if (this.#revoked.has(token)) return undefined;
    const [header, payload, signature, ...rest] = token.split(".");
    if (!header || !payload || !signature || rest.length > 0) return undefined;
    const expected = Buffer.from(this.#sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof claims.exp === "number" && claims.exp * 1000 > this.#now() ? claims : undefined;
  }

  #sign(data: string): string {
    return createHmac("sha256", this.#signingKey).update(data).digest("base64url");
  }
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
