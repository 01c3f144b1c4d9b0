/**
 * Every request to CyberArk is covered by the set's lease and the profile's back-off, retries
 * included: the identity client asks the request's guard before EVERY attempt, and the guard
 * reads the record. So no retry is sent once the lease passed to another owner, once a back-off
 * was recorded meanwhile, or after a thaw that left the lease too little time (finding 2). The
 * real identity client, over a scripted `fetch`, with a fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { UpstreamUnavailableError } from "../../functions/core/errors.js";
import { LEASE_MS } from "../../functions/core/timing.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { exampleConfig, MemoryLogger } from "../support/fakes.js";
import { ciQuery, type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const PROFILE = "ci-deployer";
let h: VendorHarness;
/** The attempts sent to CyberArk, each answered when the test says. */
let sent: { answer: (response: Response) => void }[];

function newVendor(): TokenVendor {
  const identity = new CyberArkIdentityClient({
    sleep: async () => {},
    random: () => 0,
    now: () => h.clock.now(),
  });
  return new TokenVendor({
    config: exampleConfig(),
    ...{ secrets: h.secrets, store: h.store, identity, clock: h.clock },
    logger: new MemoryLogger(),
    random: () => 0.5,
    sleep: async (ms) => {
      h.clock.advanceSeconds(ms / 1000);
      await new Promise((resolve) => setTimeout(resolve, 1));
    },
  });
}

const ok = (token: string) =>
  new Response(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 3600 }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
const failed = () => new Response("{}", { status: 500 });
const attempts = (count: number) => vi.waitFor(() => expect(sent).toHaveLength(count));
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

beforeEach(() => {
  h = vendorHarness();
  sent = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(
    () => new Promise<Response>((answer) => sent.push({ answer })),
  );
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("the identity client asks the guard before every attempt", () => {
  it("asks before attempts 1, 2 and 3, and sends nothing once it refuses", async () => {
    const client = new CyberArkIdentityClient({ sleep: async () => {}, random: () => 0 });
    const asked: number[] = [];
    const request = client.requestToken({
      endpoint: "https://abc1234.id.cyberark.cloud/oauth2/platformtoken",
      clientAuth: "body",
      clientId: "id",
      clientSecret: "secret",
      beforeAttempt: async (attempt) => {
        asked.push(attempt);
        if (attempt === 3) throw new Error("refused by the guard");
      },
    });
    await attempts(1);
    sent[0]?.answer(failed());
    await attempts(2);
    sent[1]?.answer(failed());

    await expect(request).rejects.toThrow("refused by the guard");
    expect(asked).toEqual([1, 2, 3]);
    await settle();
    expect(sent).toHaveLength(2);
  });
});

describe("no retry outside the lease or inside a back-off (finding 2)", () => {
  it("sends no retry once the lease passed to another owner while the holder was frozen", async () => {
    const [a, b] = [newVendor(), newVendor()];
    const fromA = a.getToken(ciQuery());
    await attempts(1);
    // A is frozen past its lease; B takes it over and gets the token.
    h.clock.advanceSeconds(LEASE_MS / 1000 + 1);
    const fromB = b.getToken(ciQuery());
    await attempts(2);
    sent[1]?.answer(ok("from-b"));
    expect((await fromB).token.accessToken).toBe("from-b");

    sent[0]?.answer(failed()); // A thaws: its attempt failed, its client would retry
    const vended = await fromA;

    await settle();
    expect(sent).toHaveLength(2); // A sent no second attempt
    expect(vended).toMatchObject({ cache: "table", token: { accessToken: "from-b" } });
  });

  it("sends no retry inside a back-off another instance recorded meanwhile", async () => {
    const a = newVendor();
    const fromA = a.getToken(ciQuery()).catch((e: unknown) => e);
    await attempts(1);
    const until = h.clock.now() + 120_000;
    h.store.change(PROFILE, (record) => ({ ...record, backOffUntil: until }));

    sent[0]?.answer(failed());
    const error = await fromA;

    await settle();
    expect(sent).toHaveLength(1);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ code: "upstream_unavailable", retryAfterSeconds: 120 });
  });

  it("sends no retry after a thaw that left the lease too little time", async () => {
    const a = newVendor();
    const fromA = a.getToken(ciQuery()).catch((e: unknown) => e);
    await attempts(1);
    h.clock.advanceSeconds(LEASE_MS / 1000 - 1); // frozen almost to the end of its lease

    sent[0]?.answer(failed());
    const error = await fromA;

    await settle();
    expect(sent).toHaveLength(1);
    expect(error).toMatchObject({ code: "upstream_unavailable" });
    // The lease is given back: the next request asks at once, and is answered.
    const next = a.getToken(ciQuery());
    await attempts(2);
    sent[1]?.answer(ok("after"));
    expect((await next).token.accessToken).toBe("after");
  });
});
