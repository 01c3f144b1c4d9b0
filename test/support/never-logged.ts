/**
 * The "never logged" check, run after every test of a file on that test's own output, so it
 * holds whatever order tests run in and names the test that leaked.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach } from "vitest";
import type { OutputCapture } from "./capture-output.js";

/**
 * After each test, fails it when its output holds any of `values()` (tokens vended so far, client
 * secrets), as is or form-encoded. The failure names a SHA-256 prefix, never the value.
 */
export function expectNeverLogged(output: OutputCapture, values: () => Iterable<string>): void {
  let start = 0;
  beforeEach(() => {
    start = output.text().length;
  });
  afterEach(() => {
    const text = output.text().slice(start);
    for (const value of values()) {
      if (value.length === 0) continue;
      if (text.includes(value) || text.includes(encodeURIComponent(value))) {
        const digest = createHash("sha256").update(value).digest("hex").slice(0, 12);
        throw new Error(`a token or secret (sha256 ${digest}) appeared in this test's output`);
      }
    }
  });
}
