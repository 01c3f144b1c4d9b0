/**
 * One contract suite (`test/support/profile-store-contract.ts`) against the DynamoDB adapter on
 * moto (KMS envelope) and on the local server's embedded store (dynalite), so the store the local
 * server runs on keeps the same rule as the deployed one.
 */
import { afterAll } from "vitest";
import { startEmbeddedDynamoDb } from "../../functions/local/embedded-dynamodb.js";
import { describeProfileStoreContract } from "../support/profile-store-contract.js";
import { storeOnClient, storeOnMoto } from "../support/profile-store-fixtures.js";

describeProfileStoreContract(
  "the DynamoDB adapter on moto, KMS envelope",
  async () => (await storeOnMoto()).store,
  { atomicWhenSimultaneous: false },
);

const embedded = startEmbeddedDynamoDb();
afterAll(async () => (await embedded).close());

describeProfileStoreContract(
  "the DynamoDB adapter on the embedded store",
  async () => (await storeOnClient((await embedded).client)).store,
);
