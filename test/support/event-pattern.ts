/**
 * EventBridge's matching of an event against a pattern, for the operators the stack's rules use
 * (exact values, `prefix`, `suffix`, `equals-ignore-case`, `wildcard` (`*` for any run of
 * characters), `anything-but` with a value, values or a prefix, `exists`, `$or`). Any other operator throws, so a rule can never pass a test by using one this does not
 * know.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Whether EventBridge would deliver `event` to a rule with `pattern`. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (pattern === null || typeof pattern !== "object" || Array.isArray(pattern)) {
    throw new Error(`a pattern level must be an object, not ${JSON.stringify(pattern)}`);
  }
  const fields = (event ?? {}) as Record<string, Json>;
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === "$or") return (expected as unknown[]).some((part) => matchesPattern(part, event));
    const actual = typeof fields === "object" ? fields[key] : undefined;
    if (Array.isArray(expected)) return matchesLeaf(expected, actual);
    // An array of objects in the event (CloudTrail's `resources`) matches when one of them does.
    if (Array.isArray(actual)) return actual.some((item) => matchesPattern(expected, item));
    return actual !== null && typeof actual === "object" && matchesPattern(expected, actual);
  });
}

function matchesLeaf(matchers: unknown[], actual: Json | undefined): boolean {
  // An array in the event matches when any of its elements does.
  const values = actual === undefined ? [] : Array.isArray(actual) ? actual : [actual];
  return matchers.some((matcher) => {
    if (matcher !== null && typeof matcher === "object") {
      const [[operator, argument]] = Object.entries(matcher) as [[string, unknown]];
      if (operator === "exists") return values.length > 0 === argument;
      return values.some((value) => matchesOperator(operator, argument, value));
    }
    return values.some((value) => value === matcher);
  });
}

function matchesOperator(operator: string, argument: unknown, value: Json): boolean {
  if (typeof value !== "string" && operator !== "anything-but") return false;
  switch (operator) {
    case "prefix":
      return (value as string).startsWith(argument as string);
    case "suffix":
      return (value as string).endsWith(argument as string);
    case "equals-ignore-case":
      return (value as string).toLowerCase() === (argument as string).toLowerCase();
    case "wildcard":
      return wildcard(argument as string).test(value as string);
    case "anything-but": {
      if (Array.isArray(argument)) return !argument.includes(value);
      if (argument !== null && typeof argument === "object") {
        const { prefix } = argument as { prefix?: unknown };
        if (typeof prefix !== "string") throw new Error("anything-but takes one prefix string");
        return typeof value === "string" && !value.startsWith(prefix);
      }
      return value !== argument;
    }
    default:
      throw new Error(`the test matcher does not know the "${operator}" operator`);
  }
}

// EventBridge's wildcard: `*` is any run of characters (none included), `\*` a literal star.
function wildcard(pattern: string): RegExp {
  const parts = pattern
    .split(/(?<!\\)\*/)
    .map((part) => part.replaceAll("\\*", "*").replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join("[\\s\\S]*")}$`);
}
