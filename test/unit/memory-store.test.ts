import { MemoryStore } from "../support/fakes.js";
import { describeTokenStoreContract } from "../support/token-store-contract.js";

describeTokenStoreContract("the in-memory fake", () => new MemoryStore());
