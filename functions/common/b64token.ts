/**
 * What a bearer token may look like: an RFC 6750 `b64token` (section 2.1), at most 16 KiB. The
 * one definition for every place a token crosses a boundary: the identity client refuses any
 * other answer from the tenant, and the client, the CLI and the GitHub Action refuse to hand one
 * on. A token in this alphabet is inert in a shell (`$(...)`, `eval`, `>> "$GITHUB_ENV"`), in a
 * workflow command and in an HTTP header: no spaces, quotes, `;`, `$`, `%`, line breaks or controls.
 * One narrowing of the RFC: no leading `~`, which a shell expands (`CYBERARK_TOKEN=~+/x` becomes
 * `$PWD/x`, `~user` a home directory) in the README's `eval "$(cyberark-token get p --format env)"`.
 */

/** The longest token accepted, in bytes (the alphabet is ASCII, so also in characters). */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, not starting with `~` */
const B64TOKEN = /^(?!~)[A-Za-z0-9._~+/-]+=*$/;

/** Whether `value` is a `b64token` of at most {@link MAX_TOKEN_BYTES}, not beginning with `~`. */
export function isB64Token(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_TOKEN_BYTES && B64TOKEN.test(value);
}

/** Why a token is refused, in words that never include the token. */
export const NOT_A_B64TOKEN =
  "the token is not an RFC 6750 b64token of at most 16 KiB not beginning with ~ (letters, digits, - . _ ~ + / and trailing =)";
