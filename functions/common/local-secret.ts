/**
 * The local server's per-start secret, for `--profiles` mode (real tokens): the server makes a
 * new one at every start and writes it, as a ready-made HTTP header line, to a file only its user
 * can read; it answers only requests carrying it. The client and the CLI read it from there when
 * pointed at a loopback URL, and the ready commands pass the file to curl (`-H @file`), so no
 * command line or terminal shows it. Another user, or a container sharing the host's loopback,
 * cannot read the file and so is refused.
 *
 * The file is `local-<port>.header` in `$CYBERARK_TOKEN_LOCAL_DIR`, else in
 * `~/.cyberark-token-vending`; the directory is the user's own, mode 0700, and the file 0600.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LOOPBACK_HOSTS } from "./loopback.js";

/** The request header that carries the secret. */
export const LOCAL_SECRET_HEADER = "x-local-secret";

/** Where the secrets of local servers of this user are kept. */
export function localSecretDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.CYBERARK_TOKEN_LOCAL_DIR || join(homedir(), ".cyberark-token-vending");
}

/** The file holding the secret of the local server on `port`. */
export function localSecretFile(port: number, directory = localSecretDirectory()): string {
  return join(directory, `local-${port}.header`);
}

/** A secret written for one start of the local server. */
export interface LocalSecret {
  readonly secret: string;
  readonly file: string;
  /** Whether a request's header value is this secret (in constant time). */
  matches(value: string | undefined): boolean;
  /** Removes the file (at stop: a later server on the port has its own). */
  remove(): void;
}

/**
 * Makes a secret for the server on `port` and writes it.
 * @throws {Error} when the directory is not this user's alone, naming it.
 */
export function writeLocalSecret(port: number, directory = localSecretDirectory()): LocalSecret {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  checkPrivate(directory, "directory");
  const file = localSecretFile(port, directory);
  const secret = randomBytes(32).toString("base64url");
  // A file left by an earlier start (or planted) is replaced, never written through: `wx` refuses
  // to follow a link or reuse a file someone else made.
  rmSync(file, { force: true });
  writeFileSync(file, `${LOCAL_SECRET_HEADER}: ${secret}\n`, { mode: 0o600, flag: "wx" });
  const expected = Buffer.from(secret);
  return {
    secret,
    file,
    matches: (value) => {
      const given = Buffer.from(value ?? "");
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    remove: () => rmSync(file, { force: true }),
  };
}

/**
 * The secret of the local server at `url`, when `url` is a plain-http loopback URL and this user
 * has a private secret file for its port; otherwise nothing (the request goes without it).
 */
export function readLocalSecret(url: URL, directory = localSecretDirectory()): string | undefined {
  if (url.protocol !== "http:" || !LOOPBACK_HOSTS.has(url.hostname)) {
    return undefined;
  }
  const file = localSecretFile(Number(url.port || 80), directory);
  try {
    checkPrivate(file, "file");
    const match = /^x-local-secret: ([A-Za-z0-9_-]{43})\n?$/.exec(readFileSync(file, "utf8"));
    return match?.[1];
  } catch {
    return undefined;
  }
}

/** The header to send to the local server at `url`: its secret, when there is one to send. */
export function localServerHeaders(url: URL): Record<string, string> {
  const secret = readLocalSecret(url);
  return secret === undefined ? {} : { [LOCAL_SECRET_HEADER]: secret };
}

// Ours, not a link, and nobody else's to read or write.
function checkPrivate(path: string, kind: "directory" | "file"): void {
  const stats = lstatSync(path);
  const isKind = kind === "directory" ? stats.isDirectory() : stats.isFile();
  const owned = process.getuid === undefined || stats.uid === process.getuid();
  if (!isKind || !owned || (stats.mode & 0o077) !== 0) {
    throw new Error(
      `${path} must be a ${kind} of this user's that no one else can read or write (mode 0${kind === "directory" ? "700" : "600"})`,
    );
  }
}
