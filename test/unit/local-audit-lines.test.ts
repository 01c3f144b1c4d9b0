/**
 * The local server writes its audit lines itself, for speed; they must read exactly as the
 * Powertools Logger writes them.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { afterEach, describe, expect, it } from "vitest";
import { LocalLogger } from "../../functions/local/audit-lines.js";

const write = process.stdout.write.bind(process.stdout);
afterEach(() => {
  process.stdout.write = write;
});

function captured(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  process.stdout.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  run();
  process.stdout.write = write;
  return lines
    .join("")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

describe("the local server's audit lines", () => {
  it.each([
    [
      "a served request",
      {
        requestId: "r-1",
        method: "GET",
        profile: "demo",
        status: 200,
        outcome: "ok",
        cache: "memory",
        tokenSha256: "71eaf1b690d0",
      },
    ],
    [
      "a refused one, without caller",
      {
        requestId: "r-2",
        method: "GET",
        caller: undefined,
        status: 403,
        outcome: "access_denied",
        reason: "x",
      },
    ],
    ["no fields at all", {}],
  ])(
    "hold the same keys, in the same order, with the same values as Powertools' for %s",
    (_, fields) => {
      // Prepare
      const [powertools, local] = captured(() => {
        const logger = new Logger({ serviceName: "cyberark-token-vending-local" });
        logger.info("token request", fields);
        new LocalLogger("cyberark-token-vending-local", logger).info("token request", fields);
      });

      // Assess
      const { timestamp: t1, ...expected } = powertools ?? {};
      const { timestamp: t2, ...actual } = local ?? {};
      expect(Object.keys(local ?? {})).toEqual(Object.keys(powertools ?? {}));
      expect(actual).toEqual(expected);
      expect(t2).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof t1).toBe("string");
    },
  );

  it("write each line's own values, however the fields changed since the line before", () => {
    // Prepare: lines that keep, change, drop, reorder and add fields, and an object changed inside.
    const nested = { n: 1 };
    const lines: Record<string, unknown>[] = [
      { requestId: "r-1", method: "GET", profile: "demo", status: 200, cache: "memory" },
      { requestId: "r-2", method: "GET", profile: "demo", status: 200, cache: "memory" },
      { requestId: "r-3", method: "DELETE", profile: "demo", status: 204, revoked: "true" },
      { requestId: "r-4", method: undefined, profile: "demo", status: Number.NaN, nested },
      { requestId: "r-5", profile: "demo", method: "GET", status: -0, nested },
      { requestId: "r-6", method: "GET", profile: 'a "quoted"\n one', status: 200, nested },
      {},
      { requestId: "r-7", method: "GET", profile: "demo", status: 200, cache: "memory" },
    ];

    // Act
    const logger = new Logger({ serviceName: "cyberark-token-vending-local" });
    const local = new LocalLogger("cyberark-token-vending-local", logger);
    const [expected, actual] = [logger, local].map((writer) =>
      captured(() => {
        nested.n = 1;
        for (const fields of lines) {
          if (fields.requestId === "r-5") nested.n = 2;
          writer.info("token request", fields);
        }
      }).map(({ timestamp: _, ...line }) => line),
    );

    // Assess
    expect(actual).toEqual(expected);
    expect(actual?.map((line) => Object.keys(line))).toEqual(
      expected?.map((line) => Object.keys(line)),
    );
  });
});
