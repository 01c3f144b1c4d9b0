/**
 * The simulation's only source of time and order: a seeded PRNG, a fake clock, and a scheduler
 * that holds every pending call of every simulated instance and decides which one completes next.
 *
 * Nothing here uses a real timer. A step picks one pending call, moves the clock to its completion
 * time, applies its effect, resolves its promise, and then waits for one `setImmediate`, by which
 * time every microtask the resolution started has run: the vendor code has either finished or
 * is parked on its next port call, which is then pending here too.
 */
import type { Clock } from "../../functions/core/ports.js";

/** A small, fast, seeded PRNG (mulberry32): the same seed replays the same run. */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** The simulated clock: only the scheduler moves it. */
export class SimClock implements Clock {
  #now: number;
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves time forward to `at`; time never goes back. */
  advanceTo(at: number): void {
    if (at > this.#now) this.#now = at;
  }
}

/** What the scheduler holds for one call until it completes. */
interface Pending {
  readonly seq: number;
  /** The simulated instance whose code waits for it; `undefined` for workload events. */
  readonly instance: number | undefined;
  /** When the other side would normally answer. */
  readonly due: number;
  /** The latest the call may complete: the adapter's timeout budget for it. */
  readonly deadline: number;
  /** Applies the effect (the store's write, CyberArk's answer) and settles the caller's promise. */
  readonly complete: () => void;
}

/** Latency of a port call: usually quick, sometimes slow, never beyond its timeout budget. */
export interface Latency {
  /** Usual range, in ms. */
  readonly low: number;
  readonly high: number;
  /** The adapter's worst case for the call (its timeouts and retries), in ms. */
  readonly worst: number;
}

/**
 * Decides the order of every pending call. Most steps complete the call that is due first; some
 * (see `shuffle`) complete a later one first, so answers overtake each other as they do on a
 * network. A call never completes after its deadline while its instance runs, so the timing
 * budget the core relies on holds; only a frozen instance waits longer, as a Lambda freeze does.
 */
export class Scheduler {
  readonly clock: SimClock;
  readonly #random: Prng;
  readonly #pending: Pending[] = [];
  readonly #frozen = new Map<number, (() => void)[]>();
  #seq = 0;
  /** Probability that a step completes a random eligible call instead of the earliest. */
  readonly shuffle: number;

  constructor(clock: SimClock, random: Prng, shuffle = 0.3) {
    this.clock = clock;
    this.#random = random;
    this.shuffle = shuffle;
  }

  /** A latency drawn for `latency`: 90% in the usual range, the rest up to the worst case. */
  sample(latency: Latency): number {
    const r = this.#random.next();
    if (r < 0.9) return this.#random.between(latency.low, latency.high);
    if (r < 0.98)
      return this.#random.between(latency.high, Math.max(latency.high, latency.worst / 2));
    return this.#random.between(latency.worst / 2, latency.worst);
  }

  /**
   * A call of `instance` that completes after `delayMs` (at the latest `worstMs`): `effect` runs at
   * that moment, as the other side's atomic action, and its outcome is delivered to the caller
   * then, or when the instance thaws if it is frozen.
   */
  call<T>(instance: number, delayMs: number, worstMs: number, effect: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = this.clock.now();
      this.#add({
        instance,
        due: now + Math.min(delayMs, worstMs),
        deadline: now + worstMs,
        complete: () => {
          let settle: () => void;
          try {
            const value = effect();
            settle = () => resolve(value);
          } catch (error) {
            settle = () => reject(error);
          }
          const held = this.#frozen.get(instance);
          if (held) held.push(settle);
          else settle();
        },
      });
    });
  }

  /** A workload event at exactly `at`. */
  at(at: number, run: () => void): void {
    this.#add({ instance: undefined, due: at, deadline: at, complete: run });
  }

  /** Whether `instance` is frozen. */
  isFrozen(instance: number): boolean {
    return this.#frozen.has(instance);
  }

  /** Freezes an instance: what completes for it is held until {@link thaw}. */
  freeze(instance: number): void {
    if (!this.#frozen.has(instance)) this.#frozen.set(instance, []);
  }

  /** Thaws an instance and delivers, in order, everything that completed while it was frozen. */
  thaw(instance: number): void {
    const held = this.#frozen.get(instance);
    this.#frozen.delete(instance);
    for (const settle of held ?? []) settle();
  }

  /** How many calls are pending. */
  get size(): number {
    return this.#pending.length;
  }

  /**
   * Completes one pending call and lets the code it wakes run until it waits again.
   * @returns false when nothing is pending or the next call is due after `until`.
   */
  async step(until: number): Promise<boolean> {
    const next = this.#choose();
    if (!next || Math.max(next.due, this.clock.now()) > until) return false;
    this.#pending.splice(this.#pending.indexOf(next), 1);
    this.clock.advanceTo(next.due);
    next.complete();
    await new Promise<void>((resolve) => setImmediate(resolve));
    return true;
  }

  // The earliest-due call, or (with probability `shuffle`) any call due before the earliest
  // deadline, so no call completes later than its deadline.
  #choose(): Pending | undefined {
    let earliest: Pending | undefined;
    let horizon = Number.POSITIVE_INFINITY;
    for (const p of this.#pending) {
      if (!earliest || p.due < earliest.due || (p.due === earliest.due && p.seq < earliest.seq)) {
        earliest = p;
      }
      if (p.deadline < horizon) horizon = p.deadline;
    }
    if (!earliest || !this.#random.chance(this.shuffle)) return earliest;
    const eligible = this.#pending.filter((p) => p.due <= horizon);
    return eligible.length > 0 ? this.#random.pick(eligible) : earliest;
  }

  #add(fields: Omit<Pending, "seq">): void {
    this.#seq += 1;
    this.#pending.push({ ...fields, seq: this.#seq });
  }
}
