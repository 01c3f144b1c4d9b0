/**
 * The simulation's trace: one short line per event (time, instance, what happened), kept in a ring
 * of the last few lines so a failing seed prints the lead-up to its violation. Tokens appear only
 * as fingerprints (a SHA-256 prefix), never as values.
 */
import { tokenFingerprint } from "../../functions/core/token.js";

const fingerprints = new Map<string, string>();

/** A token's short fingerprint for trace lines (memoised: a run prints each token many times). */
export function fp(accessToken: string): string {
  let fingerprint = fingerprints.get(accessToken);
  if (fingerprint === undefined) {
    fingerprint = tokenFingerprint(accessToken).slice(0, 8);
    if (fingerprints.size > 100_000) fingerprints.clear();
    fingerprints.set(accessToken, fingerprint);
  }
  return fingerprint;
}

/** The last `keep` trace lines, and optionally every line as it happens. */
export class Trace {
  readonly #start: number;
  readonly #keep: number;
  readonly #echo: ((line: string) => void) | undefined;
  readonly #ring: string[] = [];
  #next = 0;

  constructor(start: number, keep: number, echo?: (line: string) => void) {
    this.#start = start;
    this.#keep = keep;
    this.#echo = echo;
  }

  /** Records one event of `who` (an instance `i0`.., or `world`) at simulated time `at`. */
  add(at: number, who: string, what: string): void {
    const line = `${this.time(at).padStart(10)}  ${who.padEnd(5)} ${what}`;
    this.#echo?.(line);
    if (this.#ring.length < this.#keep) this.#ring.push(line);
    else this.#ring[this.#next] = line;
    this.#next = (this.#next + 1) % this.#keep;
  }

  /** Seconds since the start of the run, as `+123.456s`. */
  time(at: number): string {
    return `+${((at - this.#start) / 1000).toFixed(3)}s`;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    return this.#ring.length < this.#keep
      ? [...this.#ring]
      : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
