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
 * to the whole action's 387 KB), for the few lines below and the file-command format that
 * `github-action.ts` already writes as `@actions/core` does. It escapes more than `@actions/core`
 * does (see below): the CLI's line does not begin with `::`, where the runner also looks for a
 * command.
 */

/**
 * What is escaped: `%`, the escape character itself; every control character (CR and LF, which
 * end a line for the runner, and the rest: ESC starts a terminal's escape sequences, VT, FF and
 * NEL U+0085 move a terminal to a new line); format characters (zero-width and bidi marks, which
 * hide or reorder text); U+2028 and U+2029, line and paragraph separators; and a `#` just before
 * `[`, since the runner also runs the older `##[name]data` form of a command found anywhere in a
 * line (`##[stop-commands]` would silence every later `::add-mask::` of the step).
 */
const UNSAFE = /[%\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|#(?=\[)/gu;

/**
 * `text` as one inert line: each character above as the percent-encoding of its UTF-8 bytes. For
 * `%`, CR and LF (`%25`, `%0D`, `%0A`) that is the runner's own escaping of a command's data, so
 * an `::error::` annotation shows them as sent; the rest stay escaped, as a plain line does.
 */
export function escapeData(text: string): string {
  return text.replace(UNSAFE, (character) => encodeURIComponent(character));
}

/**
 * `value` as JSON on one line holding none of the characters {@link escapeData} escapes but `%`:
 * each is written as a JSON `\u` escape, so the text parses to the same value. For output that
 * must stay JSON (`--format json`), which a step may leave to the job log.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|#(?=\[)/gu, (character) =>
    Array.from(
      { length: character.length },
      (_, index) => `\\u${character.charCodeAt(index).toString(16).padStart(4, "0")}`,
    ).join(""),
  );
}
