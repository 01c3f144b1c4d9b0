import { Readable } from "node:stream";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { CappedRetryStrategy } from "../../functions/adapters/capped-retry-strategy.js";
import { AWS_MAX_ATTEMPTS, AWS_MAX_BACKOFF_MS } from "../../functions/core/timing.js";
import { DEPLOYED_SDK_CONFIG } from "../../functions/vend/composition.js";

// A DynamoDB endpoint that always answers a throttling error, counting the attempts.
function throttlingHandler() {
  const handler = {
    attempts: 0,
    handle: async () => {
      handler.attempts += 1;
      const body = JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        message: "slow down",
      });
      return {
        response: {
          statusCode: 400,
          headers: { "content-type": "application/x-amz-json-1.0" },
          body: Readable.from([Buffer.from(body)]),
        },
      };
    },
  };
  return handler;
}

describe("the deployed AWS SDK clients' retries", () => {
  it("retry a throttled call within the timing budget: its attempts, and pauses no longer than it counts", async () => {
    const handler = throttlingHandler();
    const client = new DynamoDBClient({
      ...DEPLOYED_SDK_CONFIG,
      requestHandler: handler,
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    });
    const get = new GetItemCommand({ TableName: "t", Key: { pk: { S: "token#p" } } });

    const error = await client.send(get).catch((caught: unknown) => caught);

    expect(error).toMatchObject({ name: "ProvisionedThroughputExceededException" });
    expect(handler.attempts).toBe(AWS_MAX_ATTEMPTS);
    const { totalRetryDelay } = (error as { $metadata: { totalRetryDelay: number } }).$metadata;
    expect(totalRetryDelay).toBeLessThanOrEqual((AWS_MAX_ATTEMPTS - 1) * AWS_MAX_BACKOFF_MS);
  });

  it("pauses at most AWS_MAX_BACKOFF_MS before a retry, throttling or not, and never retries a client error", async () => {
    const strategy = new CappedRetryStrategy(() => 0.999);
    const first = await strategy.acquireInitialRetryToken("eu-west-1");

    for (const errorType of ["THROTTLING", "TRANSIENT", "SERVER_ERROR"]) {
      const next = await strategy.refreshRetryTokenForRetry(first, { errorType });
      expect(next.getRetryDelay()).toBeLessThan(AWS_MAX_BACKOFF_MS);
      expect(next.getRetryCount()).toBe(1);
    }
    await expect(
      strategy.refreshRetryTokenForRetry(first, { errorType: "CLIENT_ERROR" }),
    ).rejects.toThrow();
  });
});
