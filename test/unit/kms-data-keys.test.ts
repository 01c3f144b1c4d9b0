/**
 * KMS data keys: a wrapped key KMS says is not the stack key's does not open (the entry holding
 * it never will), while KMS failing just then is an ordinary error (it may open on another try).
 */
import { DecryptCommand, InvalidCiphertextException, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { DoesNotOpenError } from "../../functions/adapters/token-cipher.js";

const kms = mockClient(KMSClient);
const keys = () => new KmsDataKeys(new KMSClient({}), "alias/tokens");

beforeEach(() => kms.reset());

describe("KmsDataKeys.unwrap", () => {
  it("says a wrapped key KMS refuses as not its own does not open", async () => {
    kms
      .on(DecryptCommand)
      .rejects(new InvalidCiphertextException({ message: "bad", $metadata: {} }));
    await expect(keys().unwrap(Buffer.from("junk"))).rejects.toBeInstanceOf(DoesNotOpenError);
  });

  it("passes KMS's own failures through as they are", async () => {
    kms
      .on(DecryptCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const failure = keys().unwrap(Buffer.from("ours"));
    await expect(failure).rejects.toThrow("Rate exceeded");
    await expect(failure).rejects.not.toBeInstanceOf(DoesNotOpenError);
  });

  it("answers the plaintext key", async () => {
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32) });
    await expect(keys().unwrap(Buffer.from("ours"))).resolves.toHaveLength(32);
  });
});
