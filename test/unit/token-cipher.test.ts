import { describe, expect, it } from "vitest";
import type { DataKeyProvider } from "../../functions/adapters/token-cipher.js";
import {
  DATA_KEY_REUSE_MS,
  EnvelopeCipher,
  ProcessKeyProvider,
} from "../../functions/adapters/token-cipher.js";

class CountingKeys implements DataKeyProvider {
  readonly inner = new ProcessKeyProvider();
  generated = 0;
  unwrapped = 0;
  async generate() {
    this.generated += 1;
    return this.inner.generate();
  }
  async unwrap(wrapped: Uint8Array) {
    this.unwrapped += 1;
    return this.inner.unwrap(wrapped);
  }
}

function flipLastChar(value: string): string {
  const last = value.at(-1) === "A" ? "B" : "A";
  return value.slice(0, -1) + last;
}

describe("EnvelopeCipher (no plaintext token at rest)", () => {
  it("opens what it sealed, and the sealed form does not contain the token", async () => {
    const cipher = new EnvelopeCipher(new ProcessKeyProvider());
    const sealed = await cipher.seal("eyJhbGciOi.secret-token", "token#a\nkey");
    expect(sealed).not.toContain("secret-token");
    expect(sealed.startsWith("v1.")).toBe(true);
    await expect(cipher.open(sealed, "token#a\nkey")).resolves.toBe("eyJhbGciOi.secret-token");
  });

  it("refuses a tampered ciphertext", async () => {
    const cipher = new EnvelopeCipher(new ProcessKeyProvider());
    const sealed = await cipher.seal("token", "ctx");
    await expect(cipher.open(flipLastChar(sealed), "ctx")).rejects.toThrow();
  });

  it("refuses a ciphertext opened under another context (moved to another item or identity)", async () => {
    const cipher = new EnvelopeCipher(new ProcessKeyProvider());
    const sealed = await cipher.seal("token", "token#a\nkey-1");
    await expect(cipher.open(sealed, "token#b\nkey-1")).rejects.toThrow();
    await expect(cipher.open(sealed, "token#a\nkey-2")).rejects.toThrow();
  });

  it("refuses a ciphertext sealed under another key", async () => {
    const sealed = await new EnvelopeCipher(new ProcessKeyProvider()).seal("token", "ctx");
    await expect(
      new EnvelopeCipher(new ProcessKeyProvider()).open(sealed, "ctx"),
    ).rejects.toThrow();
  });

  it("refuses values that are not sealed tokens", async () => {
    const cipher = new EnvelopeCipher(new ProcessKeyProvider());
    for (const value of ["", "plain-token", "v1.a.b", "v2.a.b.c", "v1.a.b.c.d"]) {
      await expect(cipher.open(value, "ctx")).rejects.toThrow();
    }
  });

  it("reuses a data key for an hour, then asks for a new one", async () => {
    let now = 0;
    const keys = new CountingKeys();
    const cipher = new EnvelopeCipher(keys, () => now);
    const first = await cipher.seal("a", "ctx");
    await cipher.seal("b", "ctx");
    expect(keys.generated).toBe(1);

    now += DATA_KEY_REUSE_MS;
    await cipher.seal("c", "ctx");
    expect(keys.generated).toBe(2);
    await expect(cipher.open(first, "ctx")).resolves.toBe("a");
    expect(keys.unwrapped).toBe(0);
  });

  it("unwraps another instance's data key once, then reuses it", async () => {
    const keys = new CountingKeys();
    const writer = new EnvelopeCipher(keys);
    const reader = new EnvelopeCipher(keys);
    const sealed = await writer.seal("a", "ctx");

    await reader.open(sealed, "ctx");
    await reader.open(sealed, "ctx");

    expect(keys.unwrapped).toBe(1);
  });
});
