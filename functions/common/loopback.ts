/**
 * The loopback hosts, as `URL.hostname` and a `Host` header spell them: the only hosts the client
 * reaches over plain `http://`, the only names the local server answers to, and the only hosts
 * whose per-start secret the client sends.
 */

/** `127.0.0.1`, `localhost` and `[::1]`. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "[::1]"]);
