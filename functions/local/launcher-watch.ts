/**
 * Noticing that whoever launched the local server has gone. `npm start` runs `sh -c "tsx ..."`,
 * and tsx runs the server in a child node process: a signal sent to npm alone (`kill <pid>`, a
 * process manager) ends npm and the shell without reaching the server, and a SIGHUP to tsx ends
 * tsx, not its child. So the server watches the processes between it and npm (or just its parent
 * when npm did not start it), and stops as on Ctrl-C once one of them is gone.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** How often the launchers are checked. */
const CHECK_EVERY_MS = 500;
/** How far up to look for npm: tsx, the shell, npm. */
const MAX_DEPTH = 4;

interface ProcessInfo {
  readonly parent: number;
  readonly command: string;
}

/**
 * A process's parent and command (its name from /proc on Linux, where npm's process title shows;
 * its command line from ps elsewhere); undefined if unknown.
 */
function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
    const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(parent) ? { parent, command } : undefined;
  } catch {
    try {
      const line = execFileSync("ps", ["-o", "ppid=,args=", "-p", String(pid)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
      const match = /^(\d+)\s+(.*)$/.exec(line);
      return match ? { parent: Number(match[1]), command: match[2] ?? "" } : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * The processes that launched this one: its parent, and up to npm when npm is among the nearest
 * ancestors (its process title begins with "npm"); just the parent otherwise.
 */
export function launchers(start = process.ppid): number[] {
  const chain: number[] = [];
  let pid = start;
  for (let depth = 0; depth < MAX_DEPTH && pid > 1; depth += 1) {
    const info = processInfo(pid);
    chain.push(pid);
    if (!info) break;
    if (isNpm(info.command)) return chain;
    pid = info.parent;
  }
  return [start];
}

/** npm by its process title ("npm start ..."), its executable, or its script. */
function isNpm(command: string): boolean {
  return /^npm(\s|$)/.test(command) || /(^|\/)npm(-cli\.js)?(\s|$)/.test(command);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Calls `onGone` once, when the parent changes or one of `watched` is gone; the check keeps no
 * process alive. Find `watched` with {@link launchers} at start, before anything is printed
 * (a launcher ended once the ready message shows would otherwise be missing from the chain).
 * Returns a function that stops watching.
 */
export function watchLaunchers(watched: readonly number[], onGone: () => void): () => void {
  const parent = watched[0] ?? process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent || !watched.every(isAlive)) {
      clearInterval(timer);
      onGone();
    }
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
