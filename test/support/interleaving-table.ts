/**
 * The in-process dynalite table the interleaving tests share, and directed worlds on it: one
 * scheduler seed, no faults unless asked, CyberArk granting hour-long tokens by default.
 */
import { DeleteItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, afterEach, beforeAll, vi } from "vitest";
import {
  type EmbeddedDynamoDb,
  startEmbeddedDynamoDb,
} from "../../functions/local/embedded-dynamodb.js";
import { ensureTokenTable } from "../../functions/local/token-table-setup.js";
import type { PendingGate } from "./interleaving-scheduler.js";
import { InterleavingWorld, type WorldOptions } from "./interleaving-world.js";

export const TABLE = "interleavings";

/** Starts the table before the file's tests and stops it after; returns a getter for it. */
export function useInterleavingTable(): () => EmbeddedDynamoDb {
  let db: EmbeddedDynamoDb | undefined;
  beforeAll(async () => {
    db = await startEmbeddedDynamoDb();
    await ensureTokenTable(db.client, TABLE, { enableTtl: false });
  });
  afterAll(async () => {
    await db?.close();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  return () => {
    if (!db) throw new Error("the table is not started");
    return db;
  };
}

/** Removes every item (between seeds). */
export async function emptyTable(db: EmbeddedDynamoDb): Promise<void> {
  const out = await db.client.send(new ScanCommand({ TableName: TABLE }));
  for (const item of out.Items ?? []) {
    await db.client.send(
      new DeleteItemCommand({ TableName: TABLE, Key: { pk: item.pk as never } }),
    );
  }
}

/** A fresh world on the emptied table, CyberArk stubbed in as `fetch`. */
export async function newWorld(
  db: EmbeddedDynamoDb,
  options: WorldOptions,
): Promise<InterleavingWorld> {
  await emptyTable(db);
  const world = new InterleavingWorld(db, TABLE, options);
  vi.stubGlobal("fetch", world.fetch);
  return world;
}

/** A world for a directed scenario. */
export function directed(
  db: EmbeddedDynamoDb,
  options: Omit<WorldOptions, "seed"> = {},
): Promise<InterleavingWorld> {
  return newWorld(db, { seed: 1, lifetimes: [3600], ...options });
}

/** Whether a gate of `inst` whose label holds `label` is waiting. */
export const pendingOf =
  (inst: number, label: string) =>
  (pending: readonly PendingGate[]): boolean =>
    pending.some((g) => g.inst === inst && g.label.includes(label));
