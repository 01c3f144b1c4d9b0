/**
 * A seeded scheduler for interleaving tests: every call a vendor instance makes to the outside
 * world (a table call and its reply, a KMS call, a secret read, CyberArk's reply, a sleep) waits
 * at a gate until the scheduler releases it, possibly with a fault. One shared fake clock, moved
 * only by the scheduler; a frozen instance's gates are not released while the clock moves.
 */

/** A small, fast, seeded generator (mulberry32). */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export type GateKind =
  | "ddb"
  | "ddb-reply"
  | "kms"
  | "secret"
  | "cyberark-reply"
  | "revoke-reply"
  | "sleep";

/** What the scheduler decided for a gate: go on, or fail with the named fault. */
export interface Decision {
  readonly fault?: string;
}

export interface PendingGate {
  readonly id: number;
  readonly inst: number;
  readonly kind: GateKind;
  readonly label: string;
  /** The clock time before which the gate may not be released (sleeps). */
  readonly readyAt: number;
  readonly release: (decision: Decision) => void;
}

/** The scheduler's state; the world drives it. */
export class Scheduler {
  now: number;
  seq = 0;
  readonly pending: PendingGate[] = [];
  readonly frozenUntil = new Map<number, number>();
  readonly trace: string[] = [];
  #ids = 0;
  #real = 0;
  #changes = 0;
  #idle: (() => void)[] = [];

  constructor(
    readonly rng: Rng,
    start: number,
  ) {
    this.now = start;
  }

  /** The next sequence number: a total order of everything that happened. */
  tick(): number {
    this.seq += 1;
    return this.seq;
  }

  note(line: string): void {
    this.trace.push(`#${this.seq} t=${this.now - START}ms ${line}`);
  }

  gate(inst: number, kind: GateKind, label: string, readyAt = Number.NEGATIVE_INFINITY) {
    return new Promise<Decision>((resolve) => {
      this.#ids += 1;
      this.pending.push({ id: this.#ids, inst, kind, label, readyAt, release: resolve });
      this.#changes += 1;
    });
  }

  /** Runs real I/O (dynalite); the scheduler waits for it before deciding anything else. */
  async real<T>(work: () => Promise<T>): Promise<T> {
    this.#real += 1;
    this.#changes += 1;
    try {
      return await work();
    } finally {
      this.#real -= 1;
      this.#changes += 1;
      if (this.#real === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Waits until every instance is blocked at a gate or done (no real I/O, no runnable code). */
  async settle(): Promise<void> {
    let stable = 0;
    let last = -1;
    while (stable < 3) {
      if (this.#real > 0) {
        await new Promise<void>((resolve) => this.#idle.push(resolve));
        stable = 0;
        continue;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#changes === last && this.#real === 0) stable += 1;
      else {
        stable = 0;
        last = this.#changes;
      }
    }
  }

  isFrozen(inst: number): boolean {
    return (this.frozenUntil.get(inst) ?? Number.NEGATIVE_INFINITY) > this.now;
  }

  eligible(): PendingGate[] {
    return this.pending.filter((g) => g.readyAt <= this.now && !this.isFrozen(g.inst));
  }

  /** The soonest time at which something not eligible now becomes eligible. */
  nextWake(): number | undefined {
    let soonest: number | undefined;
    for (const g of this.pending) {
      const at = Math.max(g.readyAt, this.frozenUntil.get(g.inst) ?? Number.NEGATIVE_INFINITY);
      if (at > this.now && (soonest === undefined || at < soonest)) soonest = at;
    }
    return soonest;
  }

  release(gate: PendingGate, decision: Decision = {}): void {
    const i = this.pending.indexOf(gate);
    if (i >= 0) this.pending.splice(i, 1);
    this.#changes += 1;
    this.tick();
    this.note(
      `i${gate.inst} ${gate.kind} ${gate.label}${decision.fault ? ` FAULT ${decision.fault}` : ""}`,
    );
    gate.release(decision);
  }

  advance(ms: number): void {
    this.now += ms;
    this.tick();
    this.note(`clock +${ms}ms`);
  }
}

/** The fake clock's start. */
export const START = Date.parse("2026-11-21T12:00:00Z");
