/**
 * Data keys from AWS KMS for {@link EnvelopeCipher}.
 */
import {
  DecryptCommand,
  type DecryptCommandOutput,
  GenerateDataKeyCommand,
  type KMSClient,
} from "@aws-sdk/client-kms";
import { type DataKeyProvider, DoesNotOpenError } from "./token-cipher.js";
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
    let output: DecryptCommandOutput;
    try {
      output = await this.#client.send(
        new DecryptCommand({
          CiphertextBlob: wrapped,
          KeyId: this.#keyId,
          EncryptionContext: ENCRYPTION_CONTEXT,
        }),
      );
    } catch (error) {
      if (error instanceof Error && NOT_OUR_DATA_KEY.has(error.name)) {
        throw new DoesNotOpenError(`the data key is not this service's (${error.name})`);
      }
      throw error;
    }
    if (!output.Plaintext) throw new Error("KMS returned no plaintext");
    return output.Plaintext;
  }
}

// KMS's answers that say the wrapped key itself is wrong (not one of the stack key's, or edited),
// as opposed to KMS failing or the key being disabled: the value will never open.
const NOT_OUR_DATA_KEY = new Set(["InvalidCiphertextException", "IncorrectKeyException"]);
