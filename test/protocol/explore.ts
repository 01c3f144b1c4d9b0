/**
 * The exhaustive explorer: breadth first over every interleaving of the model's actions, each
 * state visited once (states are told apart by a digest of their canonical form). Breadth first,
 * so the first violation found comes with a shortest trace to it.
 */
import {
  initialState,
  RULES,
  type Rules,
  type Scenario,
  STANDARD,
  type State,
  stateKey,
  successors,
  violations,
} from "./model.js";

/** What an exploration found. */
export interface Exploration {
  /** Distinct states reached. */
  readonly states: number;
  /** Whether every reachable state was explored (not cut off by the limit, nor a violation). */
  readonly complete: boolean;
  /** The first violation found (breadth first: a shortest trace), if any. */
  readonly violation?: { readonly problems: readonly string[]; readonly trace: readonly string[] };
}

/**
 * Explores every state reachable under `rules` in `scenario` (up to `limit` states); stops at the
 * first violation. States are told apart up to a renaming of instances; a violation's trace is
 * then found by exploring again with the instances kept in their places, so its names agree.
 */
export function explore(
  scenario: Scenario = STANDARD,
  rules: Rules = RULES,
  limit = Number.POSITIVE_INFINITY,
): Exploration {
  const first = search(scenario, rules, limit, true);
  if (!first.violation) return first;
  const again = search(scenario, rules, Number.POSITIVE_INFINITY, false);
  return { ...first, ...(again.violation ? { violation: again.violation } : {}) };
}

function search(scenario: Scenario, rules: Rules, limit: number, symmetry: boolean): Exploration {
  const seen = new Set<number>();
  const parents: number[] = [-1];
  const labels: string[] = [""];
  const start = initialState(scenario);
  seen.add(digest(start));
  let queue: { state: State; id: number }[] = [{ state: start, id: 0 }];
  while (queue.length > 0 && seen.size < limit) {
    const next: { state: State; id: number }[] = [];
    for (const { state, id } of queue) {
      for (const step of successors(state, scenario, rules, symmetry)) {
        const problems = violations(step.next);
        if (problems.length > 0) {
          const trace = symmetry ? [] : [...path(parents, labels, id), step.label];
          return { states: seen.size, complete: false, violation: { problems, trace } };
        }
        const key = digest(step.next);
        if (seen.has(key)) continue;
        seen.add(key);
        parents.push(id);
        labels.push(symmetry ? "" : step.label);
        next.push({ state: step.next, id: parents.length - 1 });
      }
    }
    queue = next;
  }
  return { states: seen.size, complete: queue.length === 0 };
}

/** The labels of the steps from the start to state `id`. */
function path(parents: readonly number[], labels: readonly string[], id: number): string[] {
  const out: string[] = [];
  for (let at = id; at > 0; at = parents[at] as number) out.push(labels[at] as string);
  return out.reverse();
}

/**
 * A 53-bit digest of the state's canonical form (two FNV-1a lanes): hash compaction, as explicit
 * model checkers use it. With a few million states the chance that two distinct states share a
 * digest (and one goes unexplored) is below one in a thousand.
 */
function digest(state: State): number {
  const text = stateKey(state);
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}
