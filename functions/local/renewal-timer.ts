/**
 * The local server's stand-in for the deployed renewal schedule: the same scheduled renewal of
 * `prewarm` profiles, run in-process on an interval. One run at a time: a tick that finds the
 * previous run still going (a slow tenant) is skipped, as the lease would make it a no-op anyway.
 */
import type { RenewalReport } from "../core/vendor-types.js";
import type { RenewalLogger } from "../vend/renewal-event.js";

/** The longest interval accepted: a day. */
export const MAX_RENEW_EVERY_SECONDS = 86_400;

/** A started timer. */
export interface RenewalTimer {
  /** Stops the timer and waits for a run under way, so what it uses can be closed after. */
  stop(): Promise<void>;
}

/**
 * Checks an interval in seconds: a whole number from 0 (off) to {@link MAX_RENEW_EVERY_SECONDS},
 * given as a number or as the command line's text.
 * @throws {Error} naming the option otherwise.
 */
export function validRenewEvery(given: number | string): number {
  const seconds = typeof given === "number" || /^\d{1,6}$/.test(given) ? Number(given) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_RENEW_EVERY_SECONDS) {
    throw new Error(
      `--renew-every must be a whole number of seconds from 0 (off) to ${MAX_RENEW_EVERY_SECONDS}, not "${given}"`,
    );
  }
  return seconds;
}

/**
 * Runs `renew` at once and then every `everySeconds` (0: never). The timer never keeps the
 * process alive; `renew` is expected not to throw (the vendor's scheduled renewal does not).
 */
export function startRenewalTimer(
  renew: () => Promise<RenewalReport>,
  everySeconds: number,
  logger: RenewalLogger,
): RenewalTimer {
  if (validRenewEvery(everySeconds) === 0) return { stop: async () => {} };
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = renew()
      .then((report) => {
        // Quiet when nothing happened: a line a minute saying so would bury the audit lines.
        if (report.failed > 0) logger.warn("scheduled renewal", { ...report });
        else if (report.renewed > 0) logger.info("scheduled renewal", { ...report });
      })
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, everySeconds * 1000);
  timer.unref();
  tick();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
