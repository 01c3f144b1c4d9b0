/**
 * `@cyberark-token-vending/aws/client`: get CyberArk Identity tokens from the token-vending API.
 *
 *   import { TokenVendingClient } from "@cyberark-token-vending/aws/client";
 *   const tokens = new TokenVendingClient({ url: process.env.CYBERARK_TOKEN_URL! });
 *   const { access_token } = await tokens.getToken("reports-app");
 */
export { InvalidApiUrlError } from "./api-url.js";
export {
  type GetTokenOptions,
  type TokenResponse,
  TokenVendingClient,
  type TokenVendingClientOptions,
  TokenVendingError,
} from "./client.js";
