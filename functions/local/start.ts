/**
 * Starting the local server: the embedded demo or a profiles file (see `backends.ts`), served
 * through either front door's request handling, with the scheduled renewal on a timer.
 */
import type { Server } from "node:http";
import { Logger } from "@aws-lambda-powertools/logger";
import { EmfMetrics } from "../adapters/emf-metrics.js";
import { type LocalSecret, writeLocalSecret } from "../common/local-secret.js";
import { LocalLogger } from "./audit-lines.js";
import { DEMO_CALLER, embeddedBackend, profilesBackend } from "./backends.js";
import { readyMessage } from "./ready-message.js";
import { startRenewalTimer, validRenewEvery } from "./renewal-timer.js";
import { createLocalServer, type LocalFrontDoor, listen } from "./server.js";

export {
  DEMO_ADMIN,
  DEMO_CALLER,
  DEMO_PROFILE,
  DEMO_READER,
  DEMO_SCOPED_PROFILE,
} from "./backends.js";

const SERVICE = "cyberark-token-vending-local";

/** Options of {@link startLocalServer}; the contract's command-line options. */
export interface LocalServerStartOptions {
  /** @default 8787 */
  readonly port?: number;
  /** Use this profiles file with real AWS services instead of the embedded demo. */
  readonly profilesFile?: string;
  /** With `profilesFile`. @default "cyberark-token-vending-local" */
  readonly table?: string;
  /** With `profilesFile`: seal cached tokens with this KMS key. @default a key local to this process */
  readonly kmsKeyId?: string;
  /** The caller identity for requests without `x-caller-arn`. @default {@link DEMO_CALLER} */
  readonly caller?: string;
  /** Seconds between scheduled renewals of `prewarm` profiles; 0 turns them off. @default 60 */
  readonly renewEverySeconds?: number;
  /** Whose events to serve, through that door's adapter. @default "rest-api" */
  readonly frontDoor?: LocalFrontDoor;
}

/** A started local server. */
export interface RunningLocalServer {
  readonly url: string;
  /** What to print: where it listens, how to fetch a token. */
  readonly readyMessage: string;
  close(): Promise<void>;
}

/**
 * Starts the local server.
 * @throws {Error} with a one-line message (bad profiles file, unreachable endpoint, port in use).
 */
export async function startLocalServer(
  options: LocalServerStartOptions = {},
): Promise<RunningLocalServer> {
  const logger = new LocalLogger(SERVICE, new Logger({ serviceName: SERVICE }));
  const renewEvery = validRenewEvery(options.renewEverySeconds ?? 60);
  // Aggregated over a second: a server answering many requests a second writes one record per
  // metric and dimensions, not one per request.
  const metrics = new EmfMetrics({ flushIntervalMs: 1000 });
  const backend = options.profilesFile
    ? await profilesBackend(options.profilesFile, options, logger, metrics)
    : await embeddedBackend(logger, metrics);
  const caller = options.caller ?? DEMO_CALLER;
  const frontDoor = options.frontDoor ?? "rest-api";
  // With real tokens, only requests carrying the per-start secret (written once the port is known).
  let secret: LocalSecret | undefined;
  const server = createLocalServer({
    vending: backend.vending,
    defaultCaller: caller,
    logger,
    frontDoor,
    ...(options.profilesFile ? { secret: { matches: (v) => secret?.matches(v) ?? false } } : {}),
  });
  let port: number;
  try {
    port = await listen(server, options.port ?? 8787);
    if (options.profilesFile) secret = writeLocalSecret(port);
  } catch (error) {
    await closeServer(server);
    metrics.close();
    await backend.close();
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  const renewals = startRenewalTimer(() => backend.vendor.renewScheduled(), renewEvery, logger);
  return {
    url,
    readyMessage: readyMessage({ url, caller, ...backend, secretFile: secret?.file, frontDoor }),
    close: async () => {
      secret?.remove();
      await closeServer(server);
      await renewals.stop();
      metrics.close();
      await backend.close();
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
