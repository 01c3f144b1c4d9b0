import { MemoryStore } from "../support/fakes.js";
import { describeProfileStoreContract } from "../support/profile-store-contract.js";

// The unit tests' store keeps the same rule as the DynamoDB adapter: one suite for both.
describeProfileStoreContract("the in-memory fake", async () => new MemoryStore());
