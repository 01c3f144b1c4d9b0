/**
 * Text the CLI and the Action write where the GitHub runner reads workflow commands: the CLI's
 * stderr and the Action's stdout. The runner takes every line that begins with `::` as a command
 * (`::error::`, `::add-mask::`, ...), so text from a server (an `error_description`, a
 * `request_id`) must never begin a line of its own, and a failure stays one line whatever it
 * quotes.
 *
 * Hand-written rather than `@actions/core`'s: its escaping is not exported (only `.` is in its
 * `exports`), and the CLI, which needs it as much, ships in the npm package. Adopting
 * `@actions/core` for the Action alone would bring `undici` into the committed bundle (measured
 * with esbuild, minified: 417 KB for `@actions/core` 3.0.1, 430 to 460 KB for 1.10 to 2.0, next
 * to the whole action's 387 KB), for the four lines below and the file-command format that
 * `github-action.ts` already writes as `@actions/core` does.
 */

/**
 * `text` as one line: `%`, CR and LF escaped as `%25`, `%0D` and `%0A`, the runner's own escaping
 * of a command's data (so an `::error::` annotation shows the text as sent, and a plain line
 * shows it escaped).
 */
export function escapeData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}
