/**
 * One seeded run of the vending core: 2 to 4 {@link TokenVendor} instances over one simulated
 * world, a workload of GETs, DELETEs, rotations, lifetime changes, faults and Lambda freezes, and
 * the invariants checked at every step. The same seed always replays the same run.
 *
 * Every profile is asked for two scope sets, its default and another, each its own cache entry:
 * the checker holds every cache promise per entry (`invariants.ts`).
 */
import type { VendingError } from "../../functions/core/errors.js";
import { NO_SCOPES, type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { ADMIN_ROLE, CI_ROLE, caller, exampleConfig, itemKey } from "../support/fakes.js";
import { Checker, type GetRecord, type Violation } from "./invariants.js";
import { Prng, Scheduler, SimClock } from "./scheduler.js";
import { Trace } from "./trace.js";
import { profileOfEntry, type UpstreamFault, World } from "./world.js";

/** Options of one run. */
export interface SimulationOptions {
  readonly seed: number;
  /** Simulated hours. @default 2 */
  readonly hours?: number;
  /** Trace lines kept for a violation's report. @default 40 */
  readonly keep?: number;
  /** Receives every trace line as it happens (`--trace`). */
  readonly echo?: (line: string) => void;
}

/**
 * The kinds of seed, each stressing one part of the design (a seed's regime is its number modulo
 * their count, so any run of consecutive seeds covers them all):
 * - `healthy`: no faults at all;
 * - `faults`: CyberArk, the table and Secrets Manager all fail often (back-offs included);
 * - `short-lifetimes`: tokens of seconds to minutes, so renewals and expiries are constant;
 * - `churn`: DELETEs and rotations every few minutes;
 * - `freezes`: Lambda-like instances frozen after most responses, often for many minutes.
 * Every regime but `healthy` also has faults of every kind now and then.
 */
export const REGIMES = ["healthy", "faults", "short-lifetimes", "churn", "freezes"] as const;

/** One of {@link REGIMES}. */
export type Regime = (typeof REGIMES)[number];

/** What one run did and broke. */
export interface SimulationResult {
  readonly seed: number;
  readonly regime: Regime;
  readonly violations: readonly Violation[];
  readonly stats: {
    readonly instances: number;
    readonly steps: number;
    readonly gets: number;
    readonly getFailures: number;
    readonly deletes: number;
    readonly upstreamRequests: number;
    /** Back-offs CyberArk asked for that landed in the table. */
    readonly backOffsRecorded: number;
  };
}

const START = Date.parse("2026-11-21T12:00:00Z");
const PROFILES = ["ci-deployer", "reports-app"] as const;
/** Each profile's two scope sets: its default first. */
const SETS: Record<string, readonly ScopeSet[]> = {
  "ci-deployer": [NO_SCOPES, scopeSetOf(["deploy"])],
  "reports-app": [scopeSetOf(["ReadUserProfile"]), scopeSetOf(["ReadUserProfile", "WriteReports"])],
};
const CALLERS: Record<string, string> = {
  "ci-deployer": CI_ROLE,
  "reports-app": "arn:aws:sts::111122223333:assumed-role/reports-lambda/run",
};
const LIFETIMES = [3600, 3600, 1800, 600, 300, 60, 20, 6];
const SHORT_LIFETIMES = [300, 120, 60, 30, 20, 6];
const SHORTER_LIFETIMES = [900, 120, 30, 5];
const MINUTE = 60_000;

/** Runs one seed to the end and returns every invariant it broke (at most one per invariant). */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const regime: Regime = REGIMES[options.seed % REGIMES.length] ?? "healthy";
  const random = new Prng(options.seed);
  const clock = new SimClock(START);
  const scheduler = new Scheduler(clock, random);
  const trace = new Trace(START, options.keep ?? 40, options.echo);
  const world = new World(scheduler, random, trace);
  const checker = new Checker(
    trace,
    () => clock.now(),
    (p) => world.currentVersion(p),
    profileOfEntry,
  );
  world.observe(checker);
  const end = START + (options.hours ?? 2) * 60 * MINUTE;
  const stats = { gets: 0, getFailures: 0, deletes: 0 };

  // Some seeds run like the local server (never frozen), others like Lambda.
  const freezeAfterResponse =
    regime === "freezes"
      ? random.between(0.3, 0.8)
      : random.chance(0.3)
        ? 0
        : random.between(0.05, 0.3);
  const config = exampleConfig();
  for (const profile of PROFILES) {
    const p = config.profiles.get(profile);
    if (!p) throw new Error(`the example configuration lacks ${profile}`);
    const lifetimes = regime === "short-lifetimes" ? SHORT_LIFETIMES : LIFETIMES;
    world.addProfile(profile, p.secretId, p.scope, random.pick(lifetimes));
    world.setSets(profile, SETS[profile] ?? [NO_SCOPES]);
  }
  const count = random.int(2, 4);
  const instances = Array.from({ length: count }, (_, i) => {
    const ports = world.portsFor(i);
    const vendor = new TokenVendor({
      config,
      ...ports,
      clock,
      logger: { warn: () => {} },
      random: () => random.next(),
    });
    return { vendor, foreground: 0 };
  });
  trace.add(
    clock.now(),
    "world",
    `seed ${options.seed} (${regime}): ${count} instances, lifetimes ${PROFILES.map((p) => `${p} ${world.lifetimeOf(p)}s`).join(", ")}`,
  );

  // An instance for a request: usually a running one; otherwise a frozen one, which the request
  // thaws, as Lambda does.
  const pickInstance = (): number => {
    const running = instances.map((_, i) => i).filter((i) => !scheduler.isFrozen(i));
    const i =
      running.length > 0 && random.chance(0.8) ? random.pick(running) : random.int(0, count - 1);
    if (scheduler.isFrozen(i)) thaw(i, "by a request");
    return i;
  };
  const thaw = (i: number, why: string) => {
    trace.add(clock.now(), "world", `thaw i${i} ${why}`);
    checker.thawed(i);
    scheduler.thaw(i);
  };
  const minValidity = (): number => {
    const r = random.next();
    if (r < 0.4) return 300;
    if (r < 0.55) return 0;
    if (r < 0.7) return 3600;
    return random.int(0, 3600);
  };

  const pickSet = (profile: string): ScopeSet => random.pick(SETS[profile] ?? [NO_SCOPES]);
  const get = (on?: number, forProfile?: string, forSet?: ScopeSet) => {
    const i = on ?? pickInstance();
    const profile = forProfile ?? random.pick(PROFILES);
    const set = forSet ?? pickSet(profile);
    // The default set is asked for by name now and then, and otherwise by asking nothing.
    const named = set !== SETS[profile]?.[0] || random.chance(0.5);
    const entry = itemKey(profile, set);
    const record: GetRecord = {
      instance: i,
      profile: entry,
      asked: set,
      minValiditySeconds: minValidity(),
      start: clock.now(),
      order: checker.nextOrder(),
    };
    const instance = instances[i];
    if (!instance) return;
    stats.gets += 1;
    instance.foreground += 1;
    trace.add(clock.now(), `i${i}`, `GET ${entry} min=${record.minValiditySeconds}`);
    instance.vendor
      .getToken({
        profile,
        caller: caller(CALLERS[profile] ?? CI_ROLE),
        minValiditySeconds: record.minValiditySeconds,
        ...(named ? { scope: set } : {}),
      })
      .then(
        (vended) => {
          trace.add(
            clock.now(),
            `i${i}`,
            `GET ${entry} -> ${world.describe(vended.token)} from ${vended.cache}`,
          );
          checker.getReturned(record, vended.token);
        },
        (error: unknown) => {
          stats.getFailures += 1;
          trace.add(clock.now(), `i${i}`, `GET ${entry} -> ${describeError(error)}`);
          checker.getFailed(record, error);
        },
      )
      .finally(() => {
        instance.foreground -= 1;
        // Lambda freezes an instance as soon as its handler returns, background work and all.
        if (instance.foreground === 0 && random.chance(freezeAfterResponse)) freeze(i);
      });
  };

  const del = (profile: string) => {
    const i = pickInstance();
    const instance = instances[i];
    if (!instance) return;
    stats.deletes += 1;
    instance.foreground += 1;
    trace.add(clock.now(), `i${i}`, `DELETE ${profile}`);
    const record = checker.deleteStarted(i, profile);
    instance.vendor
      .invalidate({ profile, caller: caller(ADMIN_ROLE) })
      .then(
        () => {
          trace.add(clock.now(), `i${i}`, `DELETE ${profile} -> 204`);
          checker.deleteResolved(record);
        },
        (error: unknown) => {
          trace.add(clock.now(), `i${i}`, `DELETE ${profile} -> ${describeError(error)}`);
          checker.deleteFailed(record, error);
        },
      )
      .finally(() => {
        instance.foreground -= 1;
      });
  };

  // Freezes an instance with no request in flight (the one given, or any), for a while.
  const freeze = (only?: number) => {
    const idle = instances
      .map((instance, i) => ({ instance, i }))
      .filter(({ instance, i }) => instance.foreground === 0 && !scheduler.isFrozen(i))
      .filter(({ i }) => only === undefined || i === only);
    if (idle.length === 0) return;
    const { i } = random.pick(idle);
    const minutes = regime === "freezes" ? 0.7 : 0.5;
    const ms = random.chance(minutes)
      ? random.between(30_000, (regime === "freezes" ? 20 : 10) * MINUTE)
      : random.between(1_000, 30_000);
    trace.add(clock.now(), "world", `freeze i${i} for up to ${(ms / 1000).toFixed(0)}s`);
    checker.frozen(i);
    scheduler.freeze(i);
    scheduler.at(clock.now() + ms, () => {
      if (scheduler.isFrozen(i)) thaw(i, "after its freeze");
    });
  };

  const upstreamFault = () => {
    const fault = random.pick<UpstreamFault>([
      ...["timeout", "unavailable", "throttled", "rejected", "broader"],
    ] as UpstreamFault[]);
    const from = clock.now();
    const episode = {
      from,
      to: from + random.between(5_000, 5 * MINUTE),
      rate: random.between(0.3, 1),
      fault,
      profile: random.chance(0.5) ? random.pick(PROFILES) : undefined,
    };
    world.upstreamEpisodes.push(episode);
    trace.add(
      from,
      "world",
      `cyberark ${fault} for ${episode.profile ?? "all profiles"}, ${Math.round(episode.rate * 100)}% for ${((episode.to - from) / 1000).toFixed(0)}s`,
    );
  };
  const storeFault = () => {
    const from = clock.now();
    const episode = {
      from,
      to: from + random.between(2_000, 2 * MINUTE),
      rate: random.between(0.2, 1),
    };
    world.storeEpisodes.push(episode);
    trace.add(
      from,
      "world",
      `table fails ${Math.round(episode.rate * 100)}% for ${((episode.to - from) / 1000).toFixed(0)}s`,
    );
  };
  const secretFault = () => {
    const from = clock.now();
    const episode = {
      from,
      to: from + random.between(2_000, MINUTE),
      rate: random.between(0.3, 1),
    };
    world.secretEpisodes.push(episode);
    trace.add(
      from,
      "world",
      `secrets fail ${Math.round(episode.rate * 100)}% for ${((episode.to - from) / 1000).toFixed(0)}s`,
    );
  };
  // Several callers of one profile at once on one instance (the local server; or a Lambda
  // instance's foreground request joined by a renewal): they share flights, with different
  // min_validity, so a joined flight's token may be too short for some of them.
  const burst = () => {
    const i = pickInstance();
    const profile = random.pick(PROFILES);
    const set = pickSet(profile);
    const size = random.int(2, 6);
    trace.add(clock.now(), "world", `burst of ${size} GETs on i${i}`);
    for (let n = 0; n < size; n += 1) get(i, profile, set);
  };
  const rotate = () => {
    const profile = random.pick(PROFILES);
    world.rotate(profile);
    // Operators often DELETE right after a rotation, so the new secret is used at once.
    if (random.chance(0.5)) {
      scheduler.at(clock.now() + random.between(10_000, 150_000), () => del(profile));
    }
  };

  // Each stream fires at random (exponential) intervals with a mean drawn per seed; a mean of
  // Infinity turns the stream off, so some seeds run without faults of that kind.
  const stream = (meanMs: number, run: () => void) => {
    if (!Number.isFinite(meanMs)) return;
    const next = () => clock.now() + -meanMs * Math.log(1 - random.next());
    const fire = () => {
      run();
      scheduler.at(next(), fire);
    };
    scheduler.at(next(), fire);
  };
  const sometimes = (meanMinutes: number) =>
    random.chance(0.2) ? Number.POSITIVE_INFINITY : meanMinutes * MINUTE * random.between(0.5, 2);
  const often = (meanMinutes: number) => meanMinutes * MINUTE * random.between(0.5, 2);
  const faults = (meanMinutes: number) =>
    regime === "healthy"
      ? Number.POSITIVE_INFINITY
      : regime === "faults"
        ? often(meanMinutes / 4)
        : sometimes(meanMinutes);
  // Freezes matter most when they catch a lease holder, a DELETE or a rotation in between.
  const churn = regime === "churn" ? 1 : regime === "freezes" ? 3 : undefined;
  stream(random.between(500, 5_000), () => get());
  stream(sometimes(3), burst);
  stream(churn ? often(2 * churn) : sometimes(15), () => del(random.pick(PROFILES)));
  stream(churn ? often(5 * churn) : sometimes(25), rotate);
  stream(faults(20), upstreamFault);
  stream(faults(30), storeFault);
  stream(faults(60), secretFault);
  stream(regime === "freezes" ? often(2) : sometimes(5), () => freeze());
  if (random.chance(0.6)) {
    scheduler.at(START + random.between(0, end - START), () => {
      const profile = random.pick(PROFILES);
      const shorter = SHORTER_LIFETIMES.filter((s) => s < world.lifetimeOf(profile));
      if (shorter.length > 0) world.setLifetime(profile, random.pick(shorter));
    });
  }
  // A tenant whose administrators keep changing the lifetime: held tokens outlive newer ones.
  if (regime === "short-lifetimes") {
    stream(often(10), () => world.setLifetime(random.pick(PROFILES), random.pick(LIFETIMES)));
  }

  const onUnhandled = (reason: unknown) => checker.unhandledRejection(reason);
  process.on("unhandledRejection", onUnhandled);
  let steps = 0;
  try {
    while (await scheduler.step(end)) steps += 1;
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  return {
    seed: options.seed,
    regime,
    violations: checker.violations,
    stats: {
      instances: count,
      steps,
      gets: stats.gets,
      getFailures: stats.getFailures,
      deletes: stats.deletes,
      upstreamRequests: world.upstreamRequests,
      backOffsRecorded: world.backOffsRecorded,
    },
  };
}

function describeError(error: unknown): string {
  if (error instanceof Error && "code" in error) {
    return `${(error as VendingError).code} (${error.message})`;
  }
  return `THREW ${error instanceof Error ? error.name : typeof error}`;
}

/** A violation as the lines to print: what broke, how to replay it, and the trace before it. */
export function formatViolation(seed: number, violation: Violation): string[] {
  return [
    `seed ${seed}: ${violation.invariant} at ${violation.at}`,
    `  ${violation.detail}`,
    `  replay: npm run sim -- --seed ${seed} --trace`,
    ...violation.trace.map((line) => `  | ${line}`),
  ];
}
