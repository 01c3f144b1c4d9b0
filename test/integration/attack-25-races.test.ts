/**
 * Review of issue 25 (second round), on the DynamoDB adapter over moto: the profile's DELETE record
 * is told apart by its time alone, so a second DELETE within the same millisecond as the first
 * leaves servable a token whose writer read the first (the fake store does the same; see
 * test/unit/attack-25-races.test.ts for the interleaving that gets there through the vendor).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { describe, expect, it } from "vitest";
import { DynamoDbTokenStore } from "../../functions/adapters/dynamodb-token-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { scopeSetOf } from "../../functions/core/scope-set.js";
import { createKey, createTokenTable, dynamodb, kms } from "../support/aws.js";

const logger = new Logger({ serviceName: "attack-25-races", logLevel: "ERROR" });
const T0 = Date.parse("2026-11-21T12:00:00Z");

describe("attack on moto: two DELETEs of a profile in the same millisecond", () => {
  it("the second drops a token whose writer read the first DELETE's record", async () => {
    const [tableName, keyId] = await Promise.all([createTokenTable(), createKey()]);
    const store = new DynamoDbTokenStore(
      dynamodb,
      tableName,
      new EnvelopeCipher(new KmsDataKeys(kms, keyId)),
      logger,
    );
    const set = scopeSetOf(["ReadUserProfile"]);
    await store.deleteProfile("p", T0 + 1_000, [set]);
    // A refresh reads the first DELETE's record (and the set's own), then its credentials...
    const basis = {
      credentialsReadAt: T0 + 1_000,
      deletionRead: T0 + 1_000,
      profileDeletionRead: T0 + 1_000,
    };
    // ...a second DELETE lands within the same millisecond, and answers 204...
    await store.deleteProfile("p", T0 + 1_000, [set]);
    // ...then the refresh writes the token obtained with those credentials.
    const token = {
      cacheKey: "identity-a",
      accessToken: "read-before-the-second-delete",
      scope: "ReadUserProfile",
      issuedAt: T0 + 1_000,
      expiresAt: T0 + 3_601_000,
    };
    await store.put("p", set, token, basis);

    expect((await store.get("p", set)).token).toBeUndefined();
  });
});
