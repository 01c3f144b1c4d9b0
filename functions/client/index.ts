/**
 * `@cyberark-token-vending/aws/client`: get CyberArk Identity tokens from the token-vending API.
 *
 *   import { TokenVendingClient } from "@cyberark-token-vending/aws/client";
 *   const tokens = new TokenVendingClient({ url: process.env.CYBERARK_TOKEN_URL! });
 *   const { access_token } = await tokens.getToken("reports-app");
 */
export { InvalidApiUrlError } from "./api-url.js";
export {
  type CallOptions,
  type GetTokenOptions,
  type TokenResponse,
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "./client.js";
export { TokenVendingError, type TokenVendingErrorCode } from "./errors.js";
export type { RetryPolicy } from "./retry-policy.js";
