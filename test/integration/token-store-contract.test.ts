import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDbTokenStore } from "../../functions/adapters/dynamodb-token-store.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { EnvelopeCipher } from "../../functions/adapters/token-cipher.js";
import { createKey, createTokenTable, dynamodb, kms } from "../support/aws.js";
import { describeTokenStoreContract } from "../support/token-store-contract.js";

const logger = new Logger({ serviceName: "token-store-contract", logLevel: "ERROR" });

describeTokenStoreContract("the DynamoDB adapter on moto, KMS envelope", async () => {
  const [tableName, keyId] = await Promise.all([createTokenTable(), createKey()]);
  return new DynamoDbTokenStore(
    dynamodb,
    tableName,
    new EnvelopeCipher(new KmsDataKeys(kms, keyId)),
    logger,
  );
});
