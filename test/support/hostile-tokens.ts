/**
 * Tokens a hostile or broken tenant might send, none of them an RFC 6750 b64token: each place a
 * token crosses a boundary (the identity client, the client, the CLI, the GitHub Action) is tested
 * with all of them.
 */
export const HOSTILE_TOKENS: readonly (readonly [what: string, token: string])[] = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${IFS}, not a template
  ["shell metacharacters", "x;touch${IFS}PWNED;#"],
  ["a command substitution", "ey$(id)x"],
  ["a double quote", 'ey"x'],
  ["a single quote", "ey'x"],
  ["a space", "ey x"],
  ["a line break", "PART-ONE\nSECRET-PART-TWO\n::add-mask::x"],
  ["a carriage return", "ey\rx"],
  ["a control character", "ey\u0001x"],
  ["a percent sign", "ey%0Ax"],
  ["padding before the end", "ey=x"],
  // A b64token by RFC 6750, but `eval "CYBERARK_TOKEN=~+/x"` expands it to $PWD/x (or `~user` to
  // a home directory): a leading tilde is refused too.
  ["a leading tilde (the shell's tilde expansion)", "~+/x"],
  ["a leading tilde naming a user", "~root"],
  ["more than 16 KiB", "e".repeat(16 * 1024 + 1)],
];
