/**
 * A fresh set of fakes for vendor tests: one clock, one secret source, one table and one tenant
 * shared by every vendor instance made with `newVendor()`, as function instances share them.
 */
import { expect, vi } from "vitest";
import type { IssuedTokenStore, Metrics } from "../../functions/core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import {
  ACCOUNT,
  ADMIN_ROLE,
  CI_ROLE,
  caller,
  exampleConfig,
  FakeClock,
  FakeIdentity,
  FakeSecrets,
  MemoryLogger,
  MemoryStore,
} from "./fakes.js";

/** The fakes of one test and the helpers that drive them. */
export interface VendorHarness {
  readonly clock: FakeClock;
  readonly secrets: FakeSecrets;
  readonly store: MemoryStore;
  readonly identity: FakeIdentity;
  readonly logger: MemoryLogger;
  /** A new function instance: its own memory, the shared fakes (and `issued`, a ledger, if given). */
  newVendor(config?: ProfilesConfig, metrics?: Metrics, issued?: IssuedTokenStore): TokenVendor;
  /** Queues a CyberArk answer that comes only when the returned function is called. */
  heldResponse(accessToken: string, expiresIn?: number): () => void;
  /** Queues a CyberArk failure that comes only when the returned function is called. */
  heldFailure(error: Error): () => void;
  /** Resolves once CyberArk has been asked `count` times in all. */
  upstreamAsked(count: number): Promise<void>;
}

/** Builds the fakes, the example secrets stored. */
export function vendorHarness(): VendorHarness {
  const clock = new FakeClock();
  const secrets = new FakeSecrets();
  secrets.set("cyberark/ci-deployer", { client_id: "svc-ci@example.com", client_secret: "s3cret" });
  secrets.set("cyberark/reports", { username: "svc-reports@example.com", password: "pw" });
  const store = new MemoryStore();
  const identity = new FakeIdentity();
  const logger = new MemoryLogger();

  // Polling waits move the fake clock and let other promises run, as real time would.
  const sleep = async (ms: number) => {
    clock.advanceSeconds(ms / 1000);
    await new Promise((resolve) => setTimeout(resolve, 1));
  };
  const held = (answer: () => { accessToken: string; expiresIn: number }) => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    identity.next.push(async () => {
      await released;
      return answer();
    });
    return () => release();
  };

  return {
    clock,
    secrets,
    store,
    identity,
    logger,
    newVendor: (config = exampleConfig(), metrics = undefined, issued = undefined) =>
      new TokenVendor({
        config,
        ...(metrics ? { metrics } : {}),
        ...(issued ? { issued } : {}),
        secrets,
        store,
        identity,
        clock,
        logger,
        sleep,
        random: () => 0.5,
      }),
    heldResponse: (accessToken, expiresIn = 3600) => held(() => ({ accessToken, expiresIn })),
    heldFailure: (error) =>
      held(() => {
        throw error;
      }),
    upstreamAsked: (count) => vi.waitFor(() => expect(identity.requests).toHaveLength(count)),
  };
}

/** A `GET` of the ci-deployer profile by its allowed caller. */
export function ciQuery(minValiditySeconds = 300) {
  return { profile: "ci-deployer", caller: caller(CI_ROLE), minValiditySeconds };
}

/** A `GET` of the reports-app profile (revocable tokens) by a caller of its allowed account. */
export function reportsQuery(minValiditySeconds = 300) {
  return {
    profile: "reports-app",
    caller: caller("arn:aws:sts::444455556666:assumed-role/any/s"),
    minValiditySeconds,
  };
}

/** A `DELETE` of the reports-app profile by the admin. */
export function reportsDelete() {
  return { profile: "reports-app", caller: caller(ADMIN_ROLE) };
}

/** A `DELETE` of the ci-deployer profile by the admin. */
export function ciDelete() {
  return { profile: "ci-deployer", caller: caller(ADMIN_ROLE) };
}

/**
 * The example profiles with `ci-deployer` and a second profile, `nightly`, kept warm
 * (`prewarm: true`); `reports-app` is not.
 */
export function prewarmConfig(): ProfilesConfig {
  const tenantUrl = "https://abc1234.id.cyberark.cloud";
  return parseProfilesConfig({
    profiles: {
      "ci-deployer": {
        tenantUrl,
        secretId: "cyberark/ci-deployer",
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/ci-*`],
        prewarm: true,
      },
      nightly: {
        tenantUrl,
        secretId: "cyberark/nightly",
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/ci-*`],
        prewarm: true,
      },
      "reports-app": {
        tenantUrl,
        secretId: "cyberark/reports",
        applicationId: "reports_api",
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/reports-lambda`],
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
  });
}
