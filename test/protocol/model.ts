/**
 * A pure model of the shared-cache protocol (`docs/protocol.md`): instances, the profile's record,
 * the ledger of issued tokens and CyberArk, at small scope, on an abstract clock of ticks. Every
 * change of the record is made by the functions of `functions/core/profile-record.ts` (through
 * {@link Rules}, so a test can break one on purpose): the rule is stated once.
 *
 * Each step is one atomic action of one actor: a strongly consistent read, one conditional write,
 * one request leaving for CyberArk (the per-attempt guard's read and the send are one step: no
 * await lies between them), CyberArk answering (the answer taken in at once: `arrivedAt`), the
 * clock's tick (a freeze of whoever does not move), or DynamoDB's TTL removing the item. The
 * explorer (`explore.ts`) runs every interleaving; {@link violations} states the invariants.
 */

import type { TokenStamp } from "../../functions/core/ports.js";
import {
  backOff,
  deleteTokens,
  emptyRecord,
  expiryOf,
  MAX_LIVE_SETS,
  mayAsk,
  type ProfileRecord,
  pruned,
  releaseLease,
  type SetEntry,
  servableToken,
  takeLease,
  writeToken,
} from "../../functions/core/profile-record.js";
import { judgeOf } from "../../functions/core/revocation-rule.js";
import { DELETE_ROUNDS } from "../../functions/core/timing.js";

/** The model's durations, in ticks. */
export const T = {
  /** One attempt at CyberArk: a request sent at `t` is answered by `t + ATTEMPT`. */
  ATTEMPT: 1,
  /** The refresh lease. */
  LEASE: 2,
  /** A token's lifetime at CyberArk. */
  LIFETIME: 2,
  /** The Retry-After of CyberArk's 429 (also the longest back-off honoured). */
  RETRY_AFTER: 1,
  /** How long memory serves a token without reading the record (the 30 s bound). */
  RECHECK: 1,
  /** Credentials older than this are read again before use (shorter than `DELETE_KEEP`). */
  CREDENTIALS_MAX_AGE: 2,
  /** How long a DELETE's write keeps the item at least: the longest back-off, then a lease. */
  DELETE_KEEP: 1 + 2,
  /** Attempts per exchange, the first included. */
  ATTEMPTS: 2,
} as const;

/** The scope sets; `A` is the profile's default set. */
export type SetName = "A" | "B";
export const SETS: readonly SetName[] = ["A", "B"];
const DEFAULT_SET: SetName = "A";
/** The caller (role digest) asking for each set. */
const CALLER: Record<SetName, string> = { A: "role-a", B: "role-b" };

/** The record's `T` in the model: the id of a token CyberArk issued. */
type TokenId = number;
type Rec = ProfileRecord<TokenId>;

/** What CyberArk and the model (ghost state) know of a token. */
export interface TokenInfo {
  readonly set: SetName;
  /** The secret version of the credentials it was asked with (its identity). */
  readonly version: number;
  /** When CyberArk stops honouring it. */
  readonly realExpiry: number;
  /** The expiry its writer counts with: from when the first attempt left (errs short). */
  readonly servingExpiry: number;
  /**
   * DELETE writes made before both its credentials were read and its record was last checked
   * (the guard): a DELETE with index `>= ghost` came after, and owes it a revocation.
   */
  readonly ghost: number;
  readonly inst: number;
  /** `writer`, or the index of the DELETE that revoked it. */
  readonly revokedBy?: number | "writer";
}

/** The item as stored: the record (with its incarnation) and its `ttl`. */
export interface Item {
  readonly record: Rec;
  readonly ttl: number;
}

/** A ledger entry: the token, the life and epoch its writer read, an expiry that errs long. */
export interface LedgerEntry {
  readonly tok: TokenId;
  readonly incarnation: string;
  readonly epoch: number;
  readonly expiresAt: number;
}

/** A token as last seen in (or written to) the record: when, after how many DELETE writes. */
interface Seen {
  readonly tok: TokenId;
  readonly at: number;
  readonly ghost: number;
}

/**
 * Credentials in an instance's memory, tagged with the record read before the secret was;
 * `ghost`: DELETE writes made before the secret was read.
 */
interface Creds {
  readonly version: number;
  readonly incarnation: string | undefined;
  readonly epoch: number;
  readonly readAt: number;
  readonly ghost: number;
}

/** A strongly consistent read of the item. */
interface Snap {
  readonly record: Rec;
  /** DELETE writes made before the read. */
  readonly ghost: number;
  readonly at: number;
}

type GetPc =
  | "read"
  | "lease"
  | "guard"
  | "waiting"
  | "write"
  | "reread"
  | "revoke-own"
  | "back-off"
  | "back-off-read";

interface GetJob {
  readonly kind: "get";
  readonly set: SetName;
  /** A renewal: the caller wants more than the held token gives (min_validity). */
  readonly renew: boolean;
  readonly pc: GetPc;
  readonly snap?: Snap;
  /** The record's life and epoch under the lease (as written by the lease's write). */
  readonly incarnation?: string;
  /** The incarnation the lease's read saw (absent: no item). */
  readonly readIncarnation?: string;
  readonly epoch?: number;
  readonly attempts?: number;
  readonly rotated?: boolean;
  /** When the first attempt left. */
  readonly sentAt?: number;
  readonly tok?: TokenId;
  readonly arrivedAt?: number;
}

interface DeleteJob {
  readonly kind: "delete";
  /** `ledger`: the write is made, the ledger to read; `recheck`: the item to read again. */
  readonly pc: "ledger" | "recheck";
  /** Its first write and its latest (their indices in `deletes`). */
  readonly first: number;
  readonly index: number;
  /** The life and the epoch before its latest write. */
  readonly incarnation: string;
  readonly epoch: number;
  /** The lives it wrote in, each with the epoch before its write (the latest last). */
  readonly lives: readonly TokenStamp[];
  /** The lives it saw begin after its first write (their tokens are not its business). */
  readonly newer: readonly string[];
  readonly dropped: readonly TokenId[];
  /** The live ledger entries its latest ledger read found. */
  readonly entries?: readonly LedgerEntry[];
}

type Job = GetJob | DeleteJob;

interface Instance {
  /** An instance that only handles DELETEs (the scenario's admin), else it only handles GETs. */
  readonly admin?: true;
  readonly mem: Partial<Record<SetName, Seen>>;
  readonly creds?: Creds;
  readonly job?: Job;
}

interface InFlight {
  readonly inst: number;
  readonly set: SetName;
  readonly sentAt: number;
  readonly version: number;
  readonly ghost: number;
}

interface DeleteGhost {
  readonly time: number;
  readonly inst: number;
  /** Answered, having revoked every token of an earlier epoch (not `failed`). */
  readonly done: boolean;
}

/** How much of each kind of event the scenario may still use. */
export interface Budget {
  readonly gets: number;
  readonly deletes: number;
  readonly rotations: number;
  readonly throttles: number;
  readonly failures: number;
}

/** The whole model state. */
export interface State {
  readonly now: number;
  readonly item?: Item | undefined;
  readonly ledger: readonly LedgerEntry[];
  readonly secret: number;
  readonly inflight: readonly InFlight[];
  readonly tokens: readonly TokenInfo[];
  readonly deletes: readonly DeleteGhost[];
  readonly insts: readonly Instance[];
  readonly budget: Budget;
  readonly nextIncarnation: number;
  /** Violations the step that made this state committed (serves, sends, revocations). */
  readonly found?: readonly string[] | undefined;
}

/** The scenario's bounds. */
export interface Scenario {
  /** Instances that handle GETs. */
  readonly instances: number;
  /** Instances that handle DELETEs (beside the others). */
  readonly admins: number;
  readonly budget: Budget;
  /** Whether a GET may be a renewal (asks past a servable token). */
  readonly renewals: boolean;
}

/**
 * The scenario of `npm run check:protocol`: three instances (two serving GETs, one DELETEs), two
 * scope sets, two GETs, a DELETE, a secret rotation and a 429 (3,525,839 states).
 */
export const STANDARD: Scenario = {
  instances: 2,
  admins: 1,
  budget: { gets: 2, deletes: 1, rotations: 1, throttles: 1, failures: 0 },
  renewals: false,
};

/** The same without the rotation (605,610 states): the unit suite's, and `--quick`. */
export const QUICK: Scenario = {
  ...STANDARD,
  budget: { ...STANDARD.budget, rotations: 0 },
};

/** The transitions the model applies: the real ones by default, broken ones in mutation tests. */
export interface Rules {
  readonly takeLease: typeof takeLease;
  readonly writeToken: typeof writeToken;
  readonly releaseLease: typeof releaseLease;
  readonly backOff: typeof backOff;
  readonly deleteTokens: typeof deleteTokens;
  readonly pruned: typeof pruned;
  readonly servableToken: typeof servableToken;
  readonly mayAsk: typeof mayAsk;
  /** The DELETE's judge of a ledger entry (the core's `judgeOf`, over `revocable`). */
  readonly judgeOf: typeof judgeOf;
  /** Whether the guard runs before a retry too (it must). */
  readonly guardRetries: boolean;
  /**
   * Whether the guard refuses credentials older than `CREDENTIALS_MAX_AGE` (shorter than a
   * DELETE keeps the item): else a writer that read "no item" and froze past a DELETE and the
   * item's vanishing creates a new life of the record with credentials read before the DELETE.
   */
  readonly guardChecksCredentialsAge: boolean;
  /**
   * Whether a DELETE that finds live entries of another life in the ledger reads the item again
   * (a life begun after its write leaves its tokens alone; one it cannot place sends it round
   * again): else it takes every other life as older, and revokes the tokens of the item's next
   * life (begun while it was frozen past its keep).
   */
  readonly deleteRereadsItem: boolean;
  /** Whether the ledger remembers a token before its write (it must). */
  readonly rememberFirst: boolean;
  /** Whether a ledger entry's expiry counts from the answer's arrival (else from the first attempt). */
  readonly ledgerFromArrival: boolean;
  /** The `ttl` a conditional write of `next` at `now` gives the item it replaces (`read`). */
  readonly ttlOfWrite: (next: Rec, read: Item | undefined, now: number) => number;
}

/** The protocol as `docs/protocol.md` states it. */
export const RULES: Rules = {
  takeLease,
  writeToken,
  releaseLease,
  backOff,
  deleteTokens,
  pruned,
  servableToken,
  mayAsk,
  judgeOf,
  guardRetries: true,
  guardChecksCredentialsAge: true,
  deleteRereadsItem: true,
  rememberFirst: true,
  ledgerFromArrival: true,
  // The record's own end, and the end a recent DELETE set, carried over (capped at what a DELETE
  // now would set): a write soon after a DELETE never lets the item vanish while it still runs.
  ttlOfWrite: (next, read, now) =>
    Math.max(expiryOf(next), Math.min(read?.ttl ?? 0, now + T.DELETE_KEEP)),
};

/** The state every exploration starts from: no item, nothing in memory. */
export function initialState(scenario: Scenario): State {
  return {
    now: 0,
    ledger: [],
    secret: 0,
    inflight: [],
    tokens: [],
    deletes: [],
    insts: [
      ...Array.from({ length: scenario.instances }, () => ({ mem: {} })),
      ...Array.from({ length: scenario.admins }, () => ({ admin: true as const, mem: {} })),
    ],
    budget: scenario.budget,
    nextIncarnation: 0,
  };
}

/** One successor: the action's label and the state it leads to (in normal form). */
export interface Step {
  readonly label: string;
  readonly next: State;
}

/** Every action enabled in `s`. */
export function successors(s: State, scenario: Scenario, rules: Rules, symmetry = true): Step[] {
  const out: Step[] = [];
  const base: State = { ...s, found: undefined };
  // The clock: a freeze of everyone who does not move. CyberArk answers within an attempt.
  if (s.inflight.every((r) => r.sentAt + T.ATTEMPT > s.now)) {
    out.push({ label: "tick", next: { ...base, now: s.now + 1 } });
  }
  // DynamoDB's TTL removes the item once its ttl has passed.
  if (s.item && s.now >= s.item.ttl) {
    out.push({ label: "ttl removes the item", next: { ...base, item: undefined } });
  }
  if (s.budget.rotations > 0) {
    const budget = { ...s.budget, rotations: s.budget.rotations - 1 };
    out.push({ label: "secret rotated", next: { ...base, secret: s.secret + 1, budget } });
  }
  s.inflight.forEach((request, n) => {
    for (const [label, next] of cyberArkAnswers(base, request, n, rules)) {
      out.push({ label: `CyberArk answers i${request.inst} (${request.set}): ${label}`, next });
    }
  });
  s.insts.forEach((inst, i) => {
    const job = inst.job;
    if (!job) {
      if (s.budget.gets > 0 && !inst.admin) {
        for (const set of SETS) {
          out.push({ label: `i${i} GET ${set}`, next: startGet(base, i, set, false) });
          if (scenario.renewals) {
            out.push({ label: `i${i} renews ${set}`, next: startGet(base, i, set, true) });
          }
        }
      }
      if (s.budget.deletes > 0 && inst.admin) {
        out.push({ label: `i${i} DELETE: the write`, next: startDelete(base, i, rules) });
      }
    } else if (job.kind === "delete") {
      const step = stepDelete(base, i, job, rules);
      if (step) out.push({ label: `i${i} DELETE: ${step[0]}`, next: step[1] });
    } else if (job.pc !== "waiting") {
      const [label, next] = stepGet(base, i, job, rules);
      out.push({ label: `i${i} ${job.set}: ${label}`, next });
    }
  });
  for (const step of out) (step as { next: State }).next = normalized(step.next, symmetry);
  return out;
}

// ---- helpers -------------------------------------------------------------------------------

function withInst(s: State, i: number, inst: Instance): State {
  const insts = s.insts.slice();
  insts[i] = inst;
  return { ...s, insts };
}

function withJob(s: State, i: number, job: Job | undefined): State {
  const { job: _old, ...rest } = s.insts[i] as Instance;
  return withInst(s, i, job ? { ...rest, job } : rest);
}

function setPc(s: State, i: number, job: GetJob, pc: GetPc, more: Partial<GetJob> = {}): State {
  return withJob(s, i, { ...job, ...more, pc });
}

function withToken(s: State, id: TokenId, info: TokenInfo): State {
  const tokens = s.tokens.slice();
  tokens[id] = info;
  return { ...s, tokens };
}

function token(s: State, id: TokenId): TokenInfo {
  const info = s.tokens[id];
  if (!info) throw new Error(`no token ${id}`);
  return info;
}

function found(s: State, problem: string): State {
  return { ...s, found: [...(s.found ?? []), problem] };
}

function read(s: State): Snap {
  return { record: s.item?.record ?? emptyRecord<TokenId>(), ghost: s.deletes.length, at: s.now };
}

/** The conditional write: `next` is written iff the item is still the one `snap` saw. */
function conditionalWrite(s: State, snap: Snap, next: Rec, rules: Rules): State | undefined {
  const current = s.item?.record;
  const seen = snap.record;
  const same = seen.incarnation
    ? current?.incarnation === seen.incarnation && current.version === seen.version
    : current === undefined;
  if (!same) return undefined;
  const fresh = seen.incarnation === undefined;
  const incarnation = seen.incarnation ?? `x${s.nextIncarnation}`;
  const record: Rec = { ...next, incarnation, version: seen.version + 1 };
  return {
    ...s,
    nextIncarnation: s.nextIncarnation + (fresh ? 1 : 0),
    item: { record, ttl: rules.ttlOfWrite(record, s.item, s.now) },
  };
}

/** Whether `creds` may be used with the record read. */
function credsFit(creds: Creds | undefined, record: Rec, now: number): boolean {
  return (
    creds !== undefined &&
    creds.incarnation === record.incarnation &&
    creds.epoch === record.epoch &&
    now - creds.readAt < T.CREDENTIALS_MAX_AGE
  );
}

function owner(i: number): string {
  return `i${i}`;
}

// ---- serving ---------------------------------------------------------------------------------

/**
 * A token handed to a caller on the strength of `seen` (memory's last confirmation, the read it
 * was found in, or its own write): checks the serving invariants, keeps it in memory. An answer
 * resting on a read older than `RECHECK` (the 30 s bound; API Gateway gives up at 29 s) reaches
 * nobody and is not checked.
 */
function serve(s: State, i: number, set: SetName, seen: Seen): State {
  let next = s;
  const info = token(s, seen.tok);
  const what = `i${i} served token ${seen.tok}`;
  if (s.now - seen.at < T.RECHECK) {
    if (info.set !== set) next = found(next, `${what}: a token of set ${info.set} for set ${set}`);
    const creds = s.insts[i]?.creds;
    if (creds && info.version !== creds.version) {
      next = found(next, `${what}: of another identity (secret version ${info.version})`);
    }
    if (info.servingExpiry <= s.now) next = found(next, `${what}: an expired token`);
    s.deletes.forEach((d, k) => {
      if (info.ghost > k) return;
      if (k < seen.ghost) {
        next = found(next, `${what}: obtained before DELETE ${k}, found in the record after it`);
      } else if (d.inst === i) {
        next = found(next, `${what}: obtained before DELETE ${k}, served by its instance`);
      } else if (s.now >= d.time + T.RECHECK) {
        next = found(next, `${what}: obtained before DELETE ${k}, served past the memory bound`);
      }
    });
    const by = info.revokedBy;
    if (by !== undefined) {
      const d = typeof by === "number" ? s.deletes[by] : undefined;
      const excused =
        typeof by === "number" &&
        d &&
        by >= seen.ghost &&
        d.inst !== i &&
        s.now < d.time + T.RECHECK;
      if (!excused) next = found(next, `${what}: a revoked token`);
    }
  }
  const inst = next.insts[i] as Instance;
  return withInst(next, i, { ...inst, mem: { ...inst.mem, [set]: seen } });
}

function finish(s: State, i: number): State {
  return withJob(s, i, undefined);
}

function dropMemory(s: State, i: number, set: SetName, keep: TokenId | undefined): State {
  const inst = s.insts[i] as Instance;
  const held = inst.mem[set];
  if (held === undefined || held.tok === keep) return s;
  const mem = { ...inst.mem };
  delete mem[set];
  return withInst(s, i, { ...inst, mem });
}

// ---- a GET (or a renewal) --------------------------------------------------------------------

function startGet(s0: State, i: number, set: SetName, renew: boolean): State {
  const s = { ...s0, budget: { ...s0.budget, gets: s0.budget.gets - 1 } };
  const inst = s.insts[i] as Instance;
  const held = inst.mem[set];
  if (!renew && held && s.now - held.at < T.RECHECK) {
    const info = token(s, held.tok);
    if (info.servingExpiry > s.now && info.version === inst.creds?.version) {
      return serve(s, i, set, held);
    }
  }
  return withJob(s, i, { kind: "get", set, renew, pc: "read" });
}

function stepGet(s: State, i: number, job: GetJob, rules: Rules): [string, State] {
  const inst = s.insts[i] as Instance;
  const { set } = job;
  switch (job.pc) {
    case "read": {
      // The record, then (when the credentials held are of another life or epoch, or old) the
      // secret, tagged with this read. One step: a DELETE between the two would only make the
      // tag older than the secret (a later read then finds another epoch and reads it again).
      const snap = read(s);
      const next = setPc(s, i, job, "lease", { snap });
      if (credsFit(inst.creds, snap.record, s.now)) return ["read", decide(next, i, rules)];
      const creds: Creds = {
        version: s.secret,
        incarnation: snap.record.incarnation,
        epoch: snap.record.epoch,
        readAt: s.now,
        ghost: s.deletes.length,
      };
      const withCreds = withInst(next, i, { ...inst, creds, job: { ...job, pc: "lease", snap } });
      return ["read, secret read", decide(withCreds, i, rules)];
    }
    case "lease":
      return lease(s, i, job, rules);
    case "guard":
      return guard(s, i, job, rules);
    case "write":
      return write(s, i, job, rules);
    case "reread":
      // Read again and decide again: `writeToken` refuses a token of another life or epoch.
      return ["read again", setPc(s, i, job, "write", { snap: read(s) })];
    case "revoke-own": {
      const tok = job.tok as TokenId;
      const info = token(s, tok);
      const next =
        info.revokedBy === undefined ? withToken(s, tok, { ...info, revokedBy: "writer" }) : s;
      return ["revoked its own token: 503", finish(next, i)];
    }
    case "back-off": {
      const snap = job.snap as Snap;
      const until = (job.arrivedAt as number) + T.RETRY_AFTER;
      const release = { tag: set, owner: owner(i) };
      const next = rules.backOff(rules.pruned(snap.record, s.now), until, release);
      if (!next) return ["back-off: nothing to write: 503", finish(s, i)];
      const written = conditionalWrite(s, snap, next, rules);
      if (!written) return ["back-off: lost a race", setPc(s, i, job, "back-off-read")];
      return ["back-off written: 503", finish(written, i)];
    }
    case "back-off-read":
      return ["read", setPc(s, i, job, "back-off", { snap: read(s) })];
    case "waiting":
      throw new Error("a waiting job takes no step");
  }
}

/** After the read (and the credentials): serve from the record, or go for the lease. */
function decide(s: State, i: number, rules: Rules): State {
  const inst = s.insts[i] as Instance;
  const job = inst.job as GetJob;
  const snap = job.snap as Snap;
  const entry = rules.servableToken(snap.record, job.set, s.now);
  const usable = entry && token(s, entry.token).version === inst.creds?.version;
  if (entry && usable && !job.renew) {
    return finish(serve(s, i, job.set, { tok: entry.token, at: snap.at, ghost: snap.ghost }), i);
  }
  // A recheck that shows another token, or none, drops memory.
  const next = dropMemory(s, i, job.set, usable ? entry.token : undefined);
  return setPc(next, i, job, "lease");
}

function lease(s: State, i: number, job: GetJob, rules: Rules): [string, State] {
  const snap = job.snap as Snap;
  const decision = rules.takeLease(rules.pruned(snap.record, s.now), {
    tag: job.set,
    defaultTag: DEFAULT_SET,
    owner: owner(i),
    caller: CALLER[job.set],
    now: s.now,
    until: s.now + T.LEASE,
  });
  switch (decision.kind) {
    case "take": {
      const written = conditionalWrite(s, snap, decision.next, rules);
      if (!written) return ["lease: lost a race", setPc(s, i, job, "read")];
      return [
        "lease taken",
        setPc(written, i, job, "guard", {
          incarnation: written.item?.record.incarnation as string,
          epoch: snap.record.epoch,
          attempts: 0,
          ...(snap.record.incarnation ? { readIncarnation: snap.record.incarnation } : {}),
        }),
      ];
    }
    case "held":
      return ["lease held: poll", setPc(s, i, job, "read")];
    default: {
      // Refused (back-off, a full profile): a still-servable token of this identity, else 503.
      const entry = rules.servableToken(snap.record, job.set, s.now);
      const inst = s.insts[i] as Instance;
      if (entry && token(s, entry.token).version === inst.creds?.version) {
        const seen = { tok: entry.token, at: snap.at, ghost: snap.ghost };
        return [
          `lease refused (${decision.kind}): served the held token`,
          finish(serve(s, i, job.set, seen), i),
        ];
      }
      return [`lease refused (${decision.kind}): 503`, finish(s, i)];
    }
  }
}

/** Gives the lease back when the work stops without a token (best effort, one step). */
function release(s: State, i: number, job: GetJob, rules: Rules): State {
  const record = s.item?.record;
  const next = record && rules.releaseLease(rules.pruned(record, s.now), job.set, owner(i));
  const written = next && conditionalWrite(s, read(s), next, rules);
  return finish(written ?? s, i);
}

/** The per-attempt guard and the send, one step: no await lies between the check and the send. */
function guard(s: State, i: number, job: GetJob, rules: Rules): [string, State] {
  const creds = (s.insts[i] as Instance).creds as Creds;
  const record = s.item?.record ?? emptyRecord<TokenId>();
  const refusal = rules.mayAsk(record, {
    tag: job.set,
    owner: owner(i),
    ...(job.incarnation ? { incarnation: job.incarnation } : {}),
    epoch: job.epoch as number,
    now: s.now,
    needMs: T.ATTEMPT,
  });
  // The credentials are of this life and epoch (tagged by the lease's read, or by the record the
  // guard checked before a rotation retry), and young enough.
  const credsOfIt =
    creds.epoch === job.epoch &&
    (creds.incarnation === job.incarnation || creds.incarnation === job.readIncarnation);
  const young = !rules.guardChecksCredentialsAge || s.now - creds.readAt < T.CREDENTIALS_MAX_AGE;
  const skip = !rules.guardRetries && (job.attempts ?? 0) > 0;
  if (!skip && (refusal !== undefined || !credsOfIt || !young)) {
    return [
      `guard: ${refusal ?? "credentials"}: stop without sending, release`,
      release(s, i, job, rules),
    ];
  }
  let next = s;
  if (s.inflight.some((r) => r.set === job.set)) {
    next = found(next, `i${i} sent a second request for set ${job.set}`);
  }
  if (record.backOffUntil > s.now) next = found(next, `i${i} sent a request during the back-off`);
  const request: InFlight = {
    inst: i,
    set: job.set,
    sentAt: s.now,
    version: creds.version,
    ghost: Math.min(creds.ghost, s.deletes.length),
  };
  next = { ...next, inflight: [...next.inflight, request] };
  const attempts = (job.attempts ?? 0) + 1;
  return [
    `guard passed: attempt ${attempts} sent`,
    setPc(next, i, job, "waiting", { snap: read(s), sentAt: job.sentAt ?? s.now, attempts }),
  ];
}

/** CyberArk's possible answers to the `n`th request in flight, each taken in at once. */
function cyberArkAnswers(s: State, request: InFlight, n: number, rules: Rules): [string, State][] {
  const out: [string, State][] = [];
  const i = request.inst;
  const base = { ...s, inflight: s.inflight.filter((_, k) => k !== n) };
  const job = (s.insts[i] as Instance).job as GetJob;
  const arrived = { ...job, arrivedAt: s.now };
  // A token. Remembered before its write, with an expiry counted from its arrival (errs long).
  const id = s.tokens.length;
  const info: TokenInfo = {
    set: request.set,
    version: request.version,
    realExpiry: s.now + T.LIFETIME,
    servingExpiry: (job.sentAt as number) + T.LIFETIME,
    ghost: request.ghost,
    inst: i,
  };
  let got = withToken(base, id, info);
  if (rules.rememberFirst) got = remember(got, arrived, id, rules);
  out.push(["a token, remembered", setPc(got, i, arrived, "write", { tok: id })]);
  // A rotated secret: the old one refused (401), so the secret is read again, once.
  if (request.version < s.secret) {
    if (job.rotated) {
      out.push(["401 again: 502", release(base, i, job, rules)]);
    } else {
      const creds: Creds = {
        version: s.secret,
        incarnation: job.incarnation,
        epoch: job.epoch as number,
        readAt: s.now,
        ghost: s.deletes.length,
      };
      const next = withInst(base, i, { ...(base.insts[i] as Instance), creds });
      out.push(["401: secret read again", setPc(next, i, arrived, "guard", { rotated: true })]);
    }
  }
  if (s.budget.throttles > 0) {
    const budget = { ...s.budget, throttles: s.budget.throttles - 1 };
    out.push(["429 Retry-After", setPc({ ...base, budget }, i, arrived, "back-off")]);
  }
  if (s.budget.failures > 0) {
    const budget = { ...s.budget, failures: s.budget.failures - 1 };
    const failed = { ...base, budget };
    const more = (job.attempts ?? 0) < T.ATTEMPTS;
    out.push([
      more ? "503: retry" : "503: out of attempts",
      more ? setPc(failed, i, job, "guard") : release(failed, i, job, rules),
    ]);
  }
  return out;
}

function remember(s: State, job: GetJob, tok: TokenId, rules: Rules): State {
  const from = rules.ledgerFromArrival ? (job.arrivedAt as number) : (job.sentAt as number);
  const entry: LedgerEntry = {
    tok,
    incarnation: job.incarnation as string,
    epoch: job.epoch as number,
    expiresAt: from + T.LIFETIME,
  };
  return { ...s, ledger: [...s.ledger, entry] };
}

/** The token's write, conditioned on the guard's read (a lost race reads again). */
function write(s: State, i: number, job: GetJob, rules: Rules): [string, State] {
  const snap = job.snap as Snap;
  const tok = job.tok as TokenId;
  const expiresAt = token(s, tok).servingExpiry;
  const decision = rules.writeToken(rules.pruned(snap.record, s.now), {
    tag: job.set,
    owner: owner(i),
    incarnation: job.incarnation,
    epoch: job.epoch as number,
    token: tok,
    expiresAt,
    placeUntil: expiresAt,
  });
  if (decision.kind === "deleted")
    return ["write refused: deleted", setPc(s, i, job, "revoke-own")];
  const written = conditionalWrite(s, snap, decision.next, rules);
  if (!written) return ["write: lost a race", setPc(s, i, job, "reread")];
  const next = rules.rememberFirst ? written : remember(written, job, tok, rules);
  // A token that ended while its writer was frozen is written (it harms nobody), not served.
  if (expiresAt <= s.now) return ["token written, expired: 503", finish(next, i)];
  const served = serve(next, i, job.set, { tok, at: s.now, ghost: s.deletes.length });
  return ["token written, served", finish(served, i)];
}

// ---- a DELETE -------------------------------------------------------------------------------

/** A DELETE: its one unconditional UpdateItem (memory of its own instance dropped first). */
function startDelete(s0: State, i: number, rules: Rules): State {
  const s = { ...s0, budget: { ...s0.budget, deletes: s0.budget.deletes - 1 } };
  const inst = s.insts[i] as Instance;
  const held = Object.values(inst.mem).map((m) => m.tok);
  const cleared = withInst(s, i, { ...inst, mem: {} });
  return deleteWrite(cleared, i, { first: s.deletes.length, lives: [], newer: [] }, held, rules);
}

/** The DELETE's write: `epoch` + 1, every token and place removed; the item made if missing. */
function deleteWrite(
  s: State,
  i: number,
  past: Pick<DeleteJob, "first" | "lives" | "newer">,
  known: readonly TokenId[],
  rules: Rules,
): State {
  const old = s.item?.record ?? emptyRecord<TokenId>();
  const fresh = old.incarnation === undefined;
  const incarnation = old.incarnation ?? `x${s.nextIncarnation}`;
  const record: Rec = { ...rules.deleteTokens(old), incarnation, version: old.version + 1 };
  const dropped = [...old.sets.values()].flatMap((e) => (e.token ? [e.token.token] : []));
  const job: DeleteJob = {
    kind: "delete",
    pc: "ledger",
    first: past.first,
    index: s.deletes.length,
    incarnation,
    epoch: old.epoch,
    lives: [...past.lives, { incarnation, epoch: old.epoch }],
    newer: past.newer.filter((x) => x !== incarnation),
    dropped: [...new Set([...known, ...dropped])],
  };
  const next: State = {
    ...s,
    nextIncarnation: s.nextIncarnation + (fresh ? 1 : 0),
    item: { record, ttl: Math.max(s.now + T.DELETE_KEEP, expiryOf(record)) },
    deletes: [...s.deletes, { time: s.now, inst: i, done: false }],
  };
  return withJob(next, i, job);
}

/**
 * The DELETE's steps after its write (`functions/core/deletion.ts`): the ledger read; when it
 * shows a live entry of another life, the item read again. The same life settles it (no later
 * life had begun when the ledger was read). A life there now that began after its write is not
 * its business (its tokens are skipped); an entry of a life it cannot place (neither one it
 * wrote in nor the one there now) sends it round again: it writes again in the life there now
 * (the read and that write one step), at most `DELETE_ROUNDS` writes. Unsettled (no item, or the
 * rounds spent), it revokes only the entries of lives it wrote in and reports `failed`.
 */
function stepDelete(
  s: State,
  i: number,
  job: DeleteJob,
  rules: Rules,
): [string, State] | undefined {
  if (job.pc === "ledger") {
    const entries = s.ledger.filter((e) => e.expiresAt > s.now);
    return ["ledger read", withJob(s, i, { ...job, pc: "recheck", entries })];
  }
  // Every live entry it read is of its life: the revocations (the item not read again).
  const other = (job.entries ?? []).some((e) => e.incarnation !== job.incarnation);
  if (!(other && rules.deleteRereadsItem)) {
    return ["revocations: 204", revokeAll(s, i, job, true, rules)];
  }
  const life = s.item?.record.incarnation;
  if (life === job.incarnation)
    return ["item read: its life: 204", revokeAll(s, i, job, true, rules)];
  const newer = life === undefined || job.newer.includes(life) ? job.newer : [...job.newer, life];
  const seen = { ...job, newer };
  const known = (e: LedgerEntry) =>
    newer.includes(e.incarnation) || job.lives.some((l) => l.incarnation === e.incarnation);
  if (life !== undefined && (job.entries ?? []).every(known)) {
    return ["item read: a newer life, left alone: 204", revokeAll(s, i, seen, true, rules)];
  }
  if (life === undefined || job.lives.length >= DELETE_ROUNDS) {
    return [
      "item read: unsettled: revoked its lives' only, failed",
      revokeAll(s, i, seen, false, rules),
    ];
  }
  const next = deleteWrite(s, i, seen, job.dropped, rules);
  return ["item read: a life it cannot place: written again", next];
}

/**
 * The revocations: what the writes dropped, and the entries the core's judge finds revocable.
 * `settled`: every entry of another life it saw is older, or newer and left alone; else it
 * reports `failed` (its writes are not `done`: it promises nothing of the other lives).
 */
function revokeAll(s: State, i: number, job: DeleteJob, settled: boolean, rules: Rules): State {
  const judge = rules.judgeOf(job.lives, new Set(job.newer), settled, s.now);
  const targets = new Set(job.dropped);
  for (const e of job.entries ?? []) if (judge(e) === true) targets.add(e.tok);
  let next = s;
  for (const tok of targets) {
    const info = token(next, tok);
    if (info.realExpiry <= s.now || info.revokedBy !== undefined) continue;
    if (info.ghost > job.index) {
      next = found(next, `DELETE ${job.index} revoked token ${tok}, obtained after its write`);
    }
    next = withToken(next, tok, { ...info, revokedBy: job.index });
  }
  const deletes = next.deletes.map((d, k) =>
    settled && k >= job.first && k <= job.index ? { ...d, done: true } : d,
  );
  const ledger = next.ledger.filter((e) => !targets.has(e.tok));
  return finish({ ...next, deletes, ledger }, i);
}

// ---- invariants -----------------------------------------------------------------------------

/** Every invariant the protocol keeps, checked in `s`: the problems found (none: it holds). */
export function violations(s: State): string[] {
  const out = [...(s.found ?? [])];
  // Single flight per set.
  for (const set of SETS) {
    if (s.inflight.filter((r) => r.set === set).length > 1)
      out.push(`two requests in flight for set ${set}`);
  }
  // Every token obtained before a completed DELETE is revoked, or its writer is about to.
  s.deletes.forEach((d, k) => {
    if (!d.done) return;
    s.tokens.forEach((info, tok) => {
      if (info.ghost > k || info.revokedBy !== undefined || info.realExpiry <= s.now) return;
      if (!writerPending(s, tok)) {
        out.push(
          `token ${tok}, obtained before DELETE ${k}, is live and unrevoked, its writer done`,
        );
      }
    });
  });
  const record = s.item?.record;
  if (record) {
    // No unbounded growth; the item never vanishes while something in it lives.
    let live = 0;
    for (const e of record.sets.values()) {
      if ((e.place?.until ?? 0) > s.now || (e.lease?.until ?? 0) > s.now) live++;
    }
    if (live > MAX_LIVE_SETS) out.push("more live sets than the bound");
    if ((s.item as Item).ttl < expiryOf(record))
      out.push("the item's ttl ends before what it holds");
  }
  return out;
}

/** Whether the token's writer holds it still, before the outcome of its write. */
function writerPending(s: State, tok: TokenId): boolean {
  const job = s.insts[token(s, tok).inst]?.job;
  if (job?.kind !== "get" || job.tok !== tok) return false;
  return job.pc === "write" || job.pc === "reread" || job.pc === "revoke-own";
}

// ---- normal form: the same situation, the same state --------------------------------------------

/**
 * The state in normal form, so the explorer meets each situation once: times are counted from
 * `now` (which becomes 0) and clamped where no rule can tell them apart any more (an end in the
 * past; a start older than every window it is compared with); what has ended in a record is
 * dropped (every rule reads a record through `pruned`, or ignores what ended); record versions become "the
 * item's" (0) or "stale" (-1): a conditional write only asks whether they are equal;
 * instances are sorted (they are interchangeable; `symmetry` false keeps their order, for
 * printing a trace) and incarnations and token ids renamed in order
 * of appearance; tokens nothing refers to that CyberArk no longer honours are forgotten.
 */
export function normalized(s: State, symmetry = true): State {
  const order = s.insts.map((_, i) => i);
  if (symmetry) order.sort((a, b) => compare(signature(s, a), signature(s, b)));
  const place = new Array<number>(order.length);
  order.forEach((old, k) => {
    place[old] = k;
  });
  const n = new Normalizer(s, place);
  const item = s.item && { record: n.record(s.item.record), ttl: n.end(s.item.ttl) };
  const ledger: LedgerEntry[] = [];
  for (const e of s.ledger) {
    if (e.expiresAt <= s.now) continue;
    ledger.push({
      tok: n.tok(e.tok),
      incarnation: n.inc(e.incarnation) as string,
      epoch: e.epoch,
      expiresAt: n.end(e.expiresAt),
    });
  }
  const insts = order.map((old) => n.instance(s.insts[old] as Instance));
  const tokens = n.tokens();
  return {
    now: 0,
    ...(item ? { item } : {}),
    ledger,
    secret: s.secret,
    inflight: s.inflight.map((r) => ({
      ...r,
      inst: place[r.inst] as number,
      sentAt: n.since(r.sentAt, T.ATTEMPT),
    })),
    tokens,
    deletes: s.deletes.map((d) => ({
      ...d,
      inst: place[d.inst] as number,
      time: n.since(d.time, T.RECHECK),
    })),
    insts,
    budget: s.budget,
    nextIncarnation: n.incarnations(),
    ...(s.found ? { found: s.found } : {}),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What tells an instance apart from the others, whatever the names in the state. */
function signature(s: State, i: number): string {
  const inst = s.insts[i] as Instance;
  const job = inst.job;
  const c = inst.creds;
  const m = (set: SetName) => {
    const seen = inst.mem[set];
    return seen ? `${Math.max(seen.at - s.now, -T.RECHECK)}.${seen.ghost}` : "-";
  };
  const creds = c
    ? `${c.version}.${c.epoch}.${Math.max(c.readAt - s.now, -T.CREDENTIALS_MAX_AGE)}`
    : "-";
  const work = !job
    ? "-"
    : job.kind === "delete"
      ? `D${job.pc}${job.index}`
      : `${job.pc}.${job.set}.${job.renew}`;
  return `${inst.admin ? "~" : ""}${work}|${m("A")}|${m("B")}|${creds}`;
}

class Normalizer {
  readonly #s: State;
  readonly #place: readonly number[];
  readonly #names = new Map<string, string>();
  readonly #ids = new Map<TokenId, TokenId>();

  constructor(s: State, place: readonly number[]) {
    this.#s = s;
    this.#place = place;
  }

  end(t: number): number {
    return Math.max(t - this.#s.now, 0);
  }

  since(t: number, window: number): number {
    return Math.max(t - this.#s.now, -window);
  }

  inc(x: string | undefined): string | undefined {
    if (x === undefined) return undefined;
    let name = this.#names.get(x);
    if (!name) {
      name = `x${this.#names.size}`;
      this.#names.set(x, name);
    }
    return name;
  }

  incarnations(): number {
    return this.#names.size;
  }

  tok(id: TokenId): TokenId {
    let n = this.#ids.get(id);
    if (n === undefined) {
      n = this.#ids.size;
      this.#ids.set(id, n);
    }
    return n;
  }

  owner(o: string): string {
    return owner(this.#place[Number(o.slice(1))] as number);
  }

  record(raw: Rec): Rec {
    // What has ended is dropped: every rule reads a record through `pruned`, or ignores it.
    const r = pruned(raw, this.#s.now);
    const sets = new Map<string, SetEntry<TokenId>>();
    for (const tag of [...r.sets.keys()].sort()) {
      const e = r.sets.get(tag) as SetEntry<TokenId>;
      const entry: { -readonly [K in keyof SetEntry<TokenId>]: SetEntry<TokenId>[K] } = {};
      if (e.token) {
        entry.token = {
          epoch: e.token.epoch,
          expiresAt: this.end(e.token.expiresAt),
          token: this.tok(e.token.token),
        };
      }
      if (e.lease)
        entry.lease = { owner: this.owner(e.lease.owner), until: this.end(e.lease.until) };
      if (e.place) entry.place = { caller: e.place.caller, until: this.end(e.place.until) };
      sets.set(tag, entry);
    }
    const current = this.#s.item?.record;
    const stale =
      !current || current.incarnation !== r.incarnation || current.version !== r.version;
    const out: Rec = {
      version: r.incarnation === undefined ? 0 : stale ? -1 : 0,
      epoch: r.epoch,
      backOffUntil: this.end(r.backOffUntil),
      sets,
    };
    const name = this.inc(r.incarnation);
    return name === undefined ? out : { ...out, incarnation: name };
  }

  instance(x: Instance): Instance {
    const mem: { -readonly [K in SetName]?: Seen } = {};
    for (const set of SETS) {
      const m = x.mem[set];
      if (m) mem[set] = { tok: this.tok(m.tok), at: this.since(m.at, T.RECHECK), ghost: m.ghost };
    }
    const c = x.creds;
    const out: { -readonly [K in keyof Instance]: Instance[K] } = x.admin
      ? { admin: true, mem }
      : { mem };
    if (c) {
      out.creds = {
        version: c.version,
        incarnation: this.inc(c.incarnation),
        epoch: c.epoch,
        readAt: this.since(c.readAt, T.CREDENTIALS_MAX_AGE),
        ghost: c.ghost,
      };
    }
    if (x.job) out.job = this.job(x.job);
    return out;
  }

  job(job: Job): Job {
    if (job.kind === "delete") {
      const dropped = job.dropped.map((t) => this.tok(t));
      const lives = job.lives.map((l) => ({
        ...l,
        incarnation: this.inc(l.incarnation) as string,
      }));
      const newer = job.newer.map((x) => this.inc(x) as string);
      const out = {
        ...job,
        incarnation: this.inc(job.incarnation) as string,
        lives,
        newer,
        dropped,
      };
      if (!job.entries) return out;
      const entries = job.entries.map((e) => ({
        tok: this.tok(e.tok),
        incarnation: this.inc(e.incarnation) as string,
        epoch: e.epoch,
        expiresAt: this.end(e.expiresAt),
      }));
      return { ...out, entries };
    }
    const { pc } = job;
    const out: { -readonly [K in keyof GetJob]: GetJob[K] } = {
      kind: "get",
      set: job.set,
      renew: job.renew,
      pc,
    };
    // Only what the job's next steps use is kept: a read only until its decision is written.
    const snapUsed = pc === "lease" || pc === "waiting" || pc === "write" || pc === "back-off";
    if (job.snap && snapUsed) {
      const { record, ghost, at } = job.snap;
      out.snap = { record: this.record(record), ghost, at: this.since(at, T.RECHECK) };
    }
    if (job.incarnation !== undefined) out.incarnation = this.inc(job.incarnation) as string;
    if (job.readIncarnation !== undefined)
      out.readIncarnation = this.inc(job.readIncarnation) as string;
    if (job.epoch !== undefined) out.epoch = job.epoch;
    if (job.attempts !== undefined) out.attempts = job.attempts;
    if (job.rotated) out.rotated = true;
    if (job.sentAt !== undefined && (pc === "guard" || pc === "waiting")) {
      out.sentAt = this.since(job.sentAt, T.LIFETIME);
    }
    if (job.tok !== undefined) out.tok = this.tok(job.tok);
    if (job.arrivedAt !== undefined && (pc === "back-off" || pc === "back-off-read")) {
      out.arrivedAt = this.since(job.arrivedAt, T.RETRY_AFTER);
    }
    return out;
  }

  /** Every token still referred to, or still honoured by CyberArk, renamed. */
  tokens(): TokenInfo[] {
    const s = this.#s;
    s.tokens.forEach((info, id) => {
      if (info.realExpiry > s.now) this.tok(id);
    });
    const out: TokenInfo[] = [];
    for (const [old, id] of this.#ids) {
      const info = s.tokens[old] as TokenInfo;
      out[id] = {
        ...info,
        inst: this.#place[info.inst] as number,
        realExpiry: this.end(info.realExpiry),
        servingExpiry: this.end(info.servingExpiry),
      };
    }
    return out;
  }
}

// ---- the canonical text, for telling states apart ------------------------------------------------

/** A canonical text of a state in normal form (the step's findings left out). */
export function stateKey(s: State): string {
  const parts: (string | number)[] = [s.secret, s.nextIncarnation];
  const b = s.budget;
  parts.push(b.gets, b.deletes, b.rotations, b.throttles, b.failures, "|");
  if (s.item) parts.push(recordKey(s.item.record), s.item.ttl);
  parts.push("|");
  for (const e of s.ledger) parts.push(e.tok, e.incarnation, e.epoch, e.expiresAt, ";");
  parts.push("|");
  for (const r of s.inflight) parts.push(r.inst, r.set, r.sentAt, r.version, r.ghost, ";");
  parts.push("|");
  for (const t of s.tokens) {
    parts.push(
      t.set,
      t.version,
      t.realExpiry,
      t.servingExpiry,
      t.ghost,
      t.inst,
      t.revokedBy ?? "-",
      ";",
    );
  }
  parts.push("|");
  for (const d of s.deletes) parts.push(d.time, d.inst, d.done ? 1 : 0, ";");
  for (const inst of s.insts) {
    parts.push(inst.admin ? "#A" : "#");
    for (const set of SETS) {
      const m = inst.mem[set];
      parts.push(m ? `${m.tok}.${m.at}.${m.ghost}` : "-");
    }
    const c = inst.creds;
    parts.push(c ? `${c.version}.${c.incarnation ?? "-"}.${c.epoch}.${c.readAt}.${c.ghost}` : "-");
    const job = inst.job;
    if (!job) continue;
    if (job.kind === "delete") {
      parts.push(
        "D",
        job.pc,
        job.first,
        job.index,
        job.incarnation,
        job.epoch,
        job.dropped.join("."),
      );
      parts.push(
        job.lives.map((l) => `${l.incarnation}.${l.epoch}`).join("/"),
        job.newer.join("/"),
      );
      const entries = job.entries?.map(
        (e) => `${e.tok}.${e.incarnation}.${e.epoch}.${e.expiresAt}`,
      );
      parts.push(entries ? entries.join("/") : "-");
      continue;
    }
    parts.push("G", job.set, job.renew ? 1 : 0, job.pc);
    parts.push(job.snap ? `${recordKey(job.snap.record)}.${job.snap.ghost}.${job.snap.at}` : "-");
    parts.push(job.incarnation ?? "-", job.readIncarnation ?? "-", job.epoch ?? "-");
    parts.push(
      job.attempts ?? "-",
      job.rotated ? 1 : 0,
      job.sentAt ?? "-",
      job.arrivedAt ?? "-",
      job.tok ?? "-",
    );
  }
  return parts.join(",");
}

function recordKey(r: Rec): string {
  const parts: (string | number)[] = [r.incarnation ?? "-", r.version, r.epoch, r.backOffUntil];
  for (const [tag, e] of r.sets) {
    parts.push(tag);
    parts.push(e.token ? `${e.token.token}.${e.token.epoch}.${e.token.expiresAt}` : "-");
    parts.push(e.lease ? `${e.lease.owner}.${e.lease.until}` : "-");
    parts.push(e.place ? `${e.place.caller}.${e.place.until}` : "-");
  }
  return parts.join(":");
}
