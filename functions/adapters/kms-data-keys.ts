/**
 * Data keys from AWS KMS for {@link EnvelopeCipher}.
 */
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import type { DataKeyProvider } from "./token-cipher.js";
import { TOKEN_KEY_ENCRYPTION_CONTEXT } from "./token-key-context.js";

// Bound to every data key, so a key wrapped for this service opens for nothing else (and the
// function's grant on the key requires it).
const ENCRYPTION_CONTEXT = { ...TOKEN_KEY_ENCRYPTION_CONTEXT };

/** `GenerateDataKey` / `Decrypt` with the stack's key. */
export class KmsDataKeys implements DataKeyProvider {
  readonly #client: KMSClient;
  readonly #keyId: string;

  constructor(client: KMSClient, keyId: string) {
    this.#client = client;
    this.#keyId = keyId;
  }

  async generate(): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    const output = await this.#client.send(
      new GenerateDataKeyCommand({
        KeyId: this.#keyId,
        KeySpec: "AES_256",
        EncryptionContext: ENCRYPTION_CONTEXT,
      }),
    );
    if (!output.Plaintext || !output.CiphertextBlob) throw new Error("KMS returned no data key");
    return { plaintext: output.Plaintext, wrapped: output.CiphertextBlob };
  }

  async unwrap(wrapped: Uint8Array): Promise<Uint8Array> {
    const output = await this.#client.send(
      new DecryptCommand({
        CiphertextBlob: wrapped,
        KeyId: this.#keyId,
        EncryptionContext: ENCRYPTION_CONTEXT,
      }),
    );
    if (!output.Plaintext) throw new Error("KMS returned no plaintext");
    return output.Plaintext;
  }
}
