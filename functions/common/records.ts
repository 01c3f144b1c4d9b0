/**
 * Reading values of unknown shape (a Lambda event, a JSON body) without crashing on `null`, a
 * string or an array.
 */

/** Whether `value` is a plain object (not `null`, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value`'s fields when it is an object, else none: `fieldsOf(null).anything` is `undefined`. */
export function fieldsOf<T extends object>(value: unknown): Partial<T> {
  return typeof value === "object" && value !== null ? (value as Partial<T>) : {};
}
