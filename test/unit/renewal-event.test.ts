import type { APIGatewayProxyEvent } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../functions/vend/app.js";
import { isRenewalEvent, RENEWAL_EVENT, routeEvents } from "../../functions/vend/renewal-event.js";
import { lambdaContext, restEvent, TEST_API } from "../support/events.js";
import { CI_ROLE } from "../support/fakes.js";
import { prewarmConfig, type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

let h: VendorHarness;
let entry: ReturnType<
  typeof routeEvents<APIGatewayProxyEvent, { statusCode: number; body: string }>
>;

beforeEach(() => {
  h = vendorHarness();
  h.secrets.set("cyberark/nightly", { client_id: "svc-nightly@example.com", client_secret: "n" });
  const vendor = h.newVendor(prewarmConfig());
  const api = createHandler({ vendor, clock: h.clock, logger: h.logger, api: TEST_API });
  entry = routeEvents({ api, renew: () => vendor.renewScheduled(), logger: h.logger });
});

// What a caller invoking the function by hand, or a misrouted event source, might send.
const NOT_RENEWAL_EVENTS: [string, unknown][] = [
  ["an empty object", {}],
  ["another action", { ...RENEWAL_EVENT, action: "renew-all" }],
  ["another source", { ...RENEWAL_EVENT, source: "aws.events" }],
  ["the renewal event with an extra field", { ...RENEWAL_EVENT, profile: "ci-deployer" }],
  ["an EventBridge scheduled event", { source: "aws.events", "detail-type": "Scheduled Event" }],
  ["null", null],
  ["a number", 42],
  ["an array", [RENEWAL_EVENT]],
];

describe("isRenewalEvent", () => {
  it("recognises the renewal event, also as the schedule delivers it (parsed JSON)", () => {
    expect(isRenewalEvent(RENEWAL_EVENT)).toBe(true);
    expect(isRenewalEvent(JSON.parse(JSON.stringify(RENEWAL_EVENT)))).toBe(true);
  });

  it.each(NOT_RENEWAL_EVENTS)("does not take %s for one", (_, event) => {
    expect(isRenewalEvent(event)).toBe(false);
  });

  it("does not take an API Gateway event for one", () => {
    expect(isRenewalEvent(restEvent())).toBe(false);
  });
});

describe("the Lambda entry's routing", () => {
  it("runs a scheduled renewal on the renewal event and answers its counts only", async () => {
    const result = await entry(RENEWAL_EVENT, lambdaContext());

    expect(result).toEqual({ renewed: 2, fresh: 0, busy: 0, failed: 0 });
    expect(h.store.items.has("ci-deployer")).toBe(true);
    const tokens = h.identity.serial;
    const everything = JSON.stringify([result, h.logger.lines]);
    for (let serial = 1; serial <= tokens; serial += 1) {
      expect(everything).not.toContain(`token-${serial}`);
    }
    expect(h.logger.lines).toContainEqual({
      level: "info",
      message: "scheduled renewal",
      attributes: { renewed: 2, fresh: 0, busy: 0, failed: 0 },
    });
  });

  it("answers a failed renewal with its count, without throwing, and logs it as a warning", async () => {
    h.secrets.set("cyberark/nightly", "broken");

    const result = await entry(RENEWAL_EVENT, lambdaContext());

    expect(result).toEqual({ renewed: 1, fresh: 0, busy: 0, failed: 1 });
    expect(h.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "scheduled renewal" }),
    );
  });

  it("hands an API Gateway event to the API handler unchanged", async () => {
    const response = await entry(restEvent({ callerArn: CI_ROLE }), lambdaContext());

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ profile: "ci-deployer" });
  });

  it.each(NOT_RENEWAL_EVENTS)(
    "refuses %s with the API handler's 403, renewing nothing",
    async (_, event) => {
      const response = await entry(event as APIGatewayProxyEvent, lambdaContext());

      expect(response.statusCode).toBe(403);
      expect(JSON.parse(response.body).error).toBe("access_denied");
      expect(h.identity.requests).toHaveLength(0);
    },
  );
});
