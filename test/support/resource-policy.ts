/**
 * Whether a resource policy's Deny statements refuse a request: the statement shapes the stack
 * writes (principal `*`, actions with wildcards, `ArnNotEquals` and `BoolIfExists` conditions).
 * Anything else throws, so a policy can never pass a test by using what this does not evaluate.
 */

/** The parts of a request a Deny statement can look at. */
export interface PolicyRequest {
  readonly action: string;
  /** `aws:PrincipalArn`: the role's ARN for a role session. */
  readonly principalArn?: string;
  /** `aws:PrincipalIsAWSService`. */
  readonly principalIsAwsService: boolean;
}

interface Statement {
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Whether an action pattern (with `*` and `?`) covers the action, as IAM compares them. */
export function actionCovers(pattern: string, action: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replaceAll("*", ".*").replaceAll("?", ".")}$`, "i").test(action);
}

/** Whether some Deny statement of `policy` applies to `request`. */
export function denies(policy: { Statement: Statement[] }, request: PolicyRequest): boolean {
  return policy.Statement.some((statement) => {
    if (statement.Effect !== "Deny") return false;
    const principal = statement.Principal as { AWS?: unknown } | string | undefined;
    const everyone = principal === "*" || (typeof principal === "object" && principal.AWS === "*");
    if (!everyone) throw new Error(`the test evaluator knows only principal "*"`);
    if (!list(statement.Action).some((pattern) => actionCovers(String(pattern), request.action))) {
      return false;
    }
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => holds(operator, key, expected, request)),
    );
  });
}

function holds(operator: string, key: string, expected: unknown, request: PolicyRequest): boolean {
  const values: Record<string, string | undefined> = {
    "aws:PrincipalArn": request.principalArn,
    "aws:PrincipalIsAWSService": String(request.principalIsAwsService),
  };
  if (!(key in values)) throw new Error(`the test evaluator does not know ${key}`);
  const actual = values[key];
  switch (operator) {
    // A negated operator holds when the key is missing.
    case "ArnNotEquals":
      return actual === undefined || !list(expected).includes(actual);
    case "BoolIfExists":
      return actual === undefined || list(expected).includes(actual);
    default:
      throw new Error(`the test evaluator does not know ${operator}`);
  }
}
