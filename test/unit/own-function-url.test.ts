/**
 * The function URL door learns its own URL at its first event, through a port: one lookup per
 * instance however many requests arrive at once, a failed lookup answered 503 and tried again,
 * and every event refused while the URL is not an IAM-authorized one.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { functionUrlHandler } from "../../functions/vend/app.js";
import {
  type FunctionUrlConfig,
  type FunctionUrlLookup,
  ownFunctionUrl,
} from "../../functions/vend/own-function-url.js";
import { createVending } from "../../functions/vend/vending.js";
import { functionUrlEvent, lambdaContext, TEST_URL, TEST_URL_CONFIG } from "../support/events.js";
import { CI_ROLE } from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

let h: VendorHarness;

beforeEach(() => {
  h = vendorHarness();
});

function handlerOver(lookup: FunctionUrlLookup) {
  const vending = createVending({ vendor: h.newVendor(), clock: h.clock, logger: h.logger });
  return functionUrlHandler(vending, ownFunctionUrl(lookup, h.logger));
}

/** A lookup that answers what the test pushes, counting calls; each call waits for `release`. */
function scriptedLookup(...answers: Array<FunctionUrlConfig | Error>) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const lookup = {
    calls: 0,
    release,
    fn: async () => {
      const answer = answers[lookup.calls++];
      await gate;
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error("no answer");
      return answer;
    },
  };
  return lookup;
}

const get = (options = {}) => functionUrlEvent({ callerArn: CI_ROLE, ...options });
const auditLines = () =>
  h.logger.lines.filter((line) => line.message === "token request").map((line) => line.attributes);

describe("the function URL door's own URL", () => {
  it("is looked up once per instance, by the first requests together, and kept", async () => {
    h.identity.next.push(() => ({ accessToken: "tok", expiresIn: 3600 }));
    const lookup = scriptedLookup(TEST_URL_CONFIG);
    const handler = handlerOver(lookup.fn);

    const first = Array.from({ length: 5 }, () => handler(get(), lambdaContext()));
    lookup.release();
    const answers = await Promise.all(first);
    const later = await handler(get(), lambdaContext());

    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(later.statusCode).toBe(200);
    expect(lookup.calls).toBe(1);
  });

  it("answers 503 upstream_unavailable with Retry-After when the lookup fails, and looks again next time", async () => {
    h.identity.next.push(() => ({ accessToken: "tok", expiresIn: 3600 }));
    const secretLooking = Object.assign(new Error("AKIAEXAMPLE arn:aws:iam::1:role/x"), {
      code: "ECONNRESET",
    });
    const lookup = scriptedLookup(secretLooking, TEST_URL_CONFIG);
    lookup.release();
    const handler = handlerOver(lookup.fn);

    const failed = await handler(get(), lambdaContext());
    const retried = await handler(get(), lambdaContext());

    expect(failed.statusCode).toBe(503);
    expect(JSON.parse(failed.body)).toMatchObject({ error: "upstream_unavailable" });
    expect(failed.headers?.["Retry-After"]).toMatch(/^[1-9]\d*$/);
    expect(h.identity.requests).toHaveLength(1);
    expect(retried.statusCode).toBe(200);
    expect(lookup.calls).toBe(2);
    const logged = JSON.stringify(h.logger.lines);
    expect(logged).toContain("function URL lookup failed");
    expect(logged).not.toContain("AKIAEXAMPLE");
  });

  it("refuses an event of another host with 403 and an audit line, even with this URL's id", async () => {
    const lookup = scriptedLookup(TEST_URL_CONFIG);
    lookup.release();
    const handler = handlerOver(lookup.fn);

    const response = await handler(
      get({ domainName: `${TEST_URL.urlId}.lambda-url.us-east-1.on.aws` }),
      lambdaContext(),
    );

    expect(response.statusCode).toBe(403);
    expect(h.secrets.reads).toEqual([]);
    expect(auditLines()).toEqual([
      expect.objectContaining({ status: 403, reason: "event not from this function URL" }),
    ]);
  });

  it("refuses every event, audited, when the URL's auth type is not AWS_IAM", async () => {
    const lookup = scriptedLookup({ ...TEST_URL_CONFIG, authType: "NONE" });
    lookup.release();
    const handler = handlerOver(lookup.fn);

    const response = await handler(get(), lambdaContext());

    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: "access_denied" });
    expect(h.secrets.reads).toEqual([]);
    expect(h.identity.requests).toEqual([]);
    expect(auditLines()).toEqual([
      expect.objectContaining({
        status: 403,
        reason: "function URL auth type is NONE, not AWS_IAM",
      }),
    ]);
  });
});
