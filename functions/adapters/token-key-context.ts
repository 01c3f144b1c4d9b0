/**
 * The KMS encryption context bound to every data key of the token key. The adapter sends it with
 * each `GenerateDataKey` and `Decrypt`, and the stack grants the function the key only with it,
 * so the grant covers this service's data keys and nothing else sealed under the same key.
 * No AWS SDK import here: the CDK construct imports this module too.
 */
export const TOKEN_KEY_ENCRYPTION_CONTEXT: Readonly<Record<string, string>> = Object.freeze({
  service: "cyberark-token-vending",
});
