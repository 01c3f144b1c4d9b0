/**
 * Several function instances on one table, for the race tests: each built by the composition root
 * (`functions/vend/composition.ts`) with real SDK clients against moto, answering through the
 * REST API door's handler, with its own memory. CyberArk is the HTTPS simulator, whose held
 * answers, faults and grants stage the races, and which tells which tokens were revoked.
 *
 * Nothing here reaches into the core: an instance is what the deployed function builds, with at
 * most its KMS client (a slow KMS, `slow-kms-proxy.ts`), its clock (a clock shared by instances
 * and tenant stands for a freeze of an instance: see `SharedClock`) or its identity client's
 * attempt timeout changed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KMSClient } from "@aws-sdk/client-kms";
import { inject } from "vitest";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { SecretsManagerSource } from "../../functions/adapters/secrets-manager.js";
import { loadProfilesFile } from "../../functions/core/profiles-file.js";
import {
  IdentitySimulator,
  type SimulatedApplication,
} from "../../functions/local/identity-simulator.js";
import { createVendingService, doorHandler } from "../../functions/vend/composition.js";
import {
  createKey,
  createSecret,
  createTokenTable,
  dynamodb,
  kms,
  secretsManager,
  uniqueName,
} from "./aws.js";
import { lambdaContext, restEvent, TEST_API } from "./events.js";

export const ACCOUNT = "111122223333";
export const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/app/run`;
export const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
export const CLIENT = { client_id: "svc-races@example.com", client_secret: "races-Secret+%:" };
/** The custom OAuth2 application of the `app` profile: its tokens can be revoked. */
export const APPLICATION_ID = "reports_api";
/** The `app` profile's default scope set, and the other set its callers may ask. */
export const DEFAULT_SET = "ReadUserProfile";
export const OTHER_SET = "WriteUserProfile";

/**
 * Epoch milliseconds that a test moves forward, shared by the instances and the tenant. Moving it
 * while an instance waits for a held answer is what a freeze of that instance looks like to the
 * others: its lease and its set's place run out while it is stopped.
 */
export class SharedClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
}

/** What an instance is asked. */
export interface Ask {
  readonly method?: "GET" | "DELETE";
  /** The `scope` query parameter. */
  readonly scope?: string;
  readonly minValidity?: number;
  /** @default {@link CALLER}, or {@link ADMIN} for a DELETE */
  readonly caller?: string;
}

/** An answer of an instance. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected field by field
  readonly json: any;
  /** The access token, when one was served. */
  readonly token?: string;
}

/** One function instance; each call is one request. */
export type Instance = (ask?: Ask) => Promise<Answer>;

/** How an instance differs from the deployed one. */
export interface InstanceOptions {
  /** Its KMS client. @default moto's */
  readonly kms?: KMSClient;
  /** Its clock. @default the world's clock */
  readonly clock?: { now(): number };
  /**
   * Its identity client's per-attempt timeout: a held answer longer than that is abandoned by the
   * instance (and retried) on the real clock, whatever a shared clock says.
   * @default the deployed one
   */
  readonly attemptTimeoutMs?: number;
}

/** Lines the instances logged (warnings and audit lines), for a failing test's message. */
export interface LoggedLine {
  readonly level: string;
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** A tenant, a table, a key, a secret and a profiles file with the `app` profile. */
export class RaceWorld {
  readonly clock = new SharedClock();
  readonly simulator: IdentitySimulator;
  readonly logged: LoggedLine[] = [];
  #profilesFile = "";
  #tableName = "";
  #kmsKeyId = "";

  constructor(options: { readonly application?: SimulatedApplication } = {}) {
    this.simulator = new IdentitySimulator({
      tls: inject("simulatorTls"),
      clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
      applications: {
        [APPLICATION_ID]: { scopes: [DEFAULT_SET, OTHER_SET], ...options.application },
      },
      now: this.clock.now,
    });
  }

  /** Starts the tenant, creates the AWS resources and writes the profiles file. */
  async start(): Promise<void> {
    const tenantUrl = await this.simulator.start();
    [this.#tableName, this.#kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
    const secretId = await createSecret(uniqueName("cyberark/races"), CLIENT);
    this.#profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-races-")), "profiles.json");
    writeFileSync(
      this.#profilesFile,
      JSON.stringify({
        profiles: {
          app: {
            tenantUrl,
            secretId,
            allowedCallers: [ACCOUNT],
            applicationId: APPLICATION_ID,
            scope: DEFAULT_SET,
            scopes: [DEFAULT_SET, OTHER_SET],
          },
        },
        adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
      }),
    );
  }

  async stop(): Promise<void> {
    await this.simulator.stop();
  }

  /** The KMS key the instances seal with (a slow KMS proxy needs it too). */
  get kmsKeyId(): string {
    return this.#kmsKeyId;
  }

  /** A new function instance: its own memory, the shared table. */
  instance(options: InstanceOptions = {}): Instance {
    const logger = this.#logger();
    const clock = options.clock ?? this.clock;
    const { vending } = createVendingService({
      config: loadProfilesFile(this.#profilesFile),
      tableName: this.#tableName,
      clients: {
        secrets: new SecretsManagerSource(secretsManager),
        dynamodb,
        identity: new CyberArkIdentityClient(
          options.attemptTimeoutMs === undefined
            ? {}
            : { attemptTimeoutMs: options.attemptTimeoutMs },
        ),
        dataKeys: new KmsDataKeys(options.kms ?? kms, this.#kmsKeyId),
      },
      logger,
      clock,
    });
    const handler = doorHandler({ kind: "rest-api", api: TEST_API }, vending);
    return async (ask = {}) => {
      const method = ask.method ?? "GET";
      const query: Record<string, string[]> = {};
      if (ask.scope !== undefined) query.scope = [ask.scope];
      if (ask.minValidity !== undefined) query.min_validity = [String(ask.minValidity)];
      const response = await handler(
        restEvent({
          method,
          profile: "app",
          query,
          callerArn: ask.caller ?? (method === "DELETE" ? ADMIN : CALLER),
        }),
        lambdaContext(),
      );
      const json = response.body ? JSON.parse(response.body) : undefined;
      const token = typeof json?.access_token === "string" ? json.access_token : undefined;
      return {
        status: response.statusCode,
        headers: response.headers ?? {},
        json,
        ...(token === undefined ? {} : { token }),
      };
    };
  }

  /** Token requests the tenant received for `scope`. */
  tokenRequests(scope: string): number {
    return this.simulator.requests.filter(
      (request) => request.path.startsWith("/oauth2/token/") && request.scope === scope,
    ).length;
  }

  /** Whether the tenant still honours `token` (RFC 7662 introspection). */
  async isActive(token: string): Promise<boolean> {
    const response = await fetch(new URL("/oauth2/introspect", this.simulator.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, ...CLIENT }),
    });
    return ((await response.json()) as { active: boolean }).active;
  }

  // Keeps what the instances log (never printed unless a test shows it).
  #logger() {
    const keep = (level: string) => (message: string, attributes: Record<string, unknown>) => {
      this.logged.push({ level, message, attributes });
    };
    return { info: keep("info"), warn: keep("warn"), error: keep("error"), debug: keep("debug") };
  }
}

/** A gate a test opens: what a held answer waits for. */
export function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
