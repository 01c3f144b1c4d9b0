/**
 * `npm run sim -- --seeds N [--from S] [--hours H]` runs N seeds and prints a summary, with a short
 * trace for the first violation of each invariant; `npm run sim -- --seed S --trace` replays one
 * seed and prints its whole trace. Exits 1 when any invariant broke.
 */
import { parseArgs } from "node:util";
import type { Invariant } from "./invariants.js";
import { formatViolation, type Regime, runSimulation } from "./simulation.js";

const USAGE = `Usage: npm run sim -- [--seeds N] [--from S] [--hours H]
       npm run sim -- --seed S [--trace] [--hours H]

Runs the interleaving simulation: instances, the table, CyberArk and the clock under one seeded
scheduler, checking the caching invariants at every step.

Options:
  --seeds N    how many seeds to run (default 100)
  --from S     the first seed (default 1)
  --seed S     run this one seed (with --trace: print its whole trace)
  --hours H    simulated hours per seed (default 2)
  --trace      print every step
  -h, --help   show this help

Exits 1 when an invariant broke, 2 on bad usage.`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        seeds: { type: "string", default: "100" },
        from: { type: "string", default: "1" },
        seed: { type: "string" },
        hours: { type: "string", default: "2" },
        trace: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    // An unknown option: one line and the usage, never a stack trace.
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const values = parseOptions();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const hours = Number(values.hours);
const single = values.seed === undefined ? undefined : Number(values.seed);
const from = single ?? Number(values.from);
const seeds = single === undefined ? Number(values.seeds) : 1;
if (![hours, from, seeds].every(Number.isFinite)) {
  console.error(`error: --seeds, --from, --seed and --hours take numbers\n\n${USAGE}`);
  process.exit(2);
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const failing = new Map<Invariant, number[]>();
const started = performance.now();
let steps = 0;
let requests = 0;
const regimes = new Map<Regime, { seeds: number; gets: number; backOffs: number }>();
for (let seed = from; seed < from + seeds; seed += 1) {
  const result = await runSimulation({
    seed,
    hours,
    ...(values.trace ? { echo: print } : {}),
  });
  steps += result.stats.steps;
  requests += result.stats.upstreamRequests;
  const regime = regimes.get(result.regime) ?? { seeds: 0, gets: 0, backOffs: 0 };
  regime.seeds += 1;
  regime.gets += result.stats.gets;
  regime.backOffs += result.stats.backOffsRecorded;
  regimes.set(result.regime, regime);
  for (const violation of result.violations) {
    const seedsOf = failing.get(violation.invariant) ?? [];
    if (seedsOf.length === 0 || values.trace) {
      print("");
      for (const line of formatViolation(seed, violation)) print(line);
    }
    seedsOf.push(seed);
    failing.set(violation.invariant, seedsOf);
  }
}
const seconds = (performance.now() - started) / 1000;

print("");
print(
  `${seeds} seed(s) from ${from}, ${hours} simulated hour(s) each: ${seconds.toFixed(1)} s, ${steps} steps, ${requests} CyberArk requests`,
);
for (const [regime, { seeds: n, gets, backOffs }] of regimes) {
  print(`  ${regime}: ${n} seed(s), ${gets} GETs, ${backOffs} back-offs recorded in the table`);
}
if (failing.size === 0) {
  print("every invariant held");
} else {
  for (const [invariant, seedsOf] of failing) {
    const shown = seedsOf.slice(0, 12).join(", ");
    print(
      `FAILED ${invariant}: ${seedsOf.length} seed(s): ${shown}${seedsOf.length > 12 ? ", ..." : ""}`,
    );
  }
  process.exitCode = 1;
}
