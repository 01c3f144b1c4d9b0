/**
 * The local server's per-start secret file: private to the user, read only for the loopback
 * port it belongs to, never sent anywhere else.
 */
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  localSecretFile,
  readLocalSecret,
  writeLocalSecret,
} from "../../functions/common/local-secret.js";

const scratch = () => join(mkdtempSync(join(tmpdir(), "ctv-secret-unit-")), "secrets");

describe("the local server's secret file", () => {
  it("is written 0600 in a 0700 directory, and read back for 127.0.0.1 and its own port only", () => {
    const directory = scratch();
    const written = writeLocalSecret(8787, directory);

    expect(statSync(written.file).mode & 0o777).toBe(0o600);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    for (const url of ["http://127.0.0.1:8787", "http://127.0.0.1:8787/tokens/demo"]) {
      expect(readLocalSecret(new URL(url), directory), url).toBe(written.secret);
    }
    for (const url of [
      // Loopback names the server does not bind: another user may listen there.
      "http://localhost:8787/",
      "http://[::1]:8787",
      "http://[::ffff:127.0.0.1]:8787",
      "http://127.0.0.2:8787",
      "http://127.0.0.1:8788",
      "https://127.0.0.1:8787",
      "http://example.com:8787",
      "https://abc.execute-api.eu-west-1.amazonaws.com/v1/",
    ]) {
      expect(readLocalSecret(new URL(url), directory), url).toBeUndefined();
    }
  });

  it("matches only the exact secret", () => {
    const written = writeLocalSecret(1, scratch());
    expect(written.matches(written.secret)).toBe(true);
    expect(written.matches(`${written.secret}x`)).toBe(false);
    expect(written.matches(written.secret.toUpperCase())).toBe(false);
    expect(written.matches(undefined)).toBe(false);
  });

  it("refuses a directory others can read or write, naming it", () => {
    const directory = scratch();
    mkdirSync(directory, { mode: 0o755 });
    chmodSync(directory, 0o755);
    expect(() => writeLocalSecret(8787, directory)).toThrow(directory);
  });

  it("is not read when others could read it, or when it is not a secret line", () => {
    const directory = scratch();
    const written = writeLocalSecret(8787, directory);
    chmodSync(written.file, 0o644);
    expect(readLocalSecret(new URL("http://127.0.0.1:8787"), directory)).toBeUndefined();

    writeFileSync(localSecretFile(9000, directory), "x-local-secret: short\n", { mode: 0o600 });
    expect(readLocalSecret(new URL("http://127.0.0.1:9000"), directory)).toBeUndefined();
  });

  it("is replaced at every start, and removed at stop", () => {
    const directory = scratch();
    const first = writeLocalSecret(8787, directory);
    const second = writeLocalSecret(8787, directory);
    expect(second.secret).not.toBe(first.secret);
    expect(readLocalSecret(new URL("http://127.0.0.1:8787"), directory)).toBe(second.secret);
    second.remove();
    expect(readLocalSecret(new URL("http://127.0.0.1:8787"), directory)).toBeUndefined();
  });
});
