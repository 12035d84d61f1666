// The manager registry (registry.json): claims and runs of every owner, schema-checked, updated under a lock.
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders, writeFileAtomic } from '../base/atomic.ts';
import { isErrno } from '../base/errors.ts';
import { NotAFileError, isNotAFile, readTextFile } from '../base/jsonfile.ts';

/** running: the dispatch command runs; exited: it ended (see exitCode); interrupted: stopped with its heartbeat; timed_out: ended by run_timeout. */
export type ClaimState = 'claimed' | 'running' | 'exited' | 'interrupted' | 'timed_out';

/** One claim on a task: who took it, when, and the run that works on it. */
export interface Claim {
  id: string;
  slug: string;
  path: string;
  claimedBy: string;
  claimedAt: string;
  startedAt: string | null;
  worktree: string;
  pid: number | null;
  /** The run's start time from /proc, so a reused pid is never taken for the run. */
  pidStart: string | null;
  state: ClaimState;
  exitCode: number | null;
  endedAt: string | null;
  log: string | null;
  /** Why an interrupted or timed-out run ended, when known. */
  note?: string;
  /** The run marker (TASK_RUN_ID in the run's environment) that finds every process of the run. */
  runId?: string | null;
  /** The task file's "<dev>:<ino>" when claimed: a renamed or moved file keeps its claim. */
  fileId?: string | null;
  /** The branch of the claim's worktree (task/<slug>); null when worktrees were off; absent in claims of older heartbeats. */
  branch?: string | null;
  /** The branch (or commit) the worktree started from, for counting its commits ahead; null when worktrees were off. */
  base?: string | null;
  /** Shared registry only, as read: the host that holds the claim and its lease (database times). */
  host?: string;
  renewedAt?: string;
  leaseUntil?: string;
  /** The lease ran out: another host may take the claim over. */
  leaseExpired?: boolean;
  /** The holder has not renewed for three of its intervals: escalated as silent. */
  silent?: boolean;
}

/** A finished claim, kept for history when released. */
export interface Released extends Claim { releasedAt: string; releaseReason: string }

/** A task the operator released: not dispatched again until `retry` (or its file says completed or cancelled). */
export interface Hold { since: string; by: string }

/** registry.json: shared by every owner working on one tasks folder. */
export interface Registry {
  version: 1;
  claims: Record<string, Claim>;
  history: Released[];
  /** Released tasks held back from dispatch, by task id. */
  holds: Record<string, Hold>;
}

/** What reading the file found: the registry (valid entries only) and what was wrong, if anything. */
export interface RegistryRead {
  readonly reg: Registry;
  readonly missing: boolean;
  /** Why the file was not a valid registry (kept aside); undefined when it was. */
  readonly damage: string | undefined;
}

/** How an update reports damage and puts back what a missing or damaged registry lost. */
export interface RegistryHooks {
  readonly now: () => Date;
  readonly log: (line: string) => void;
  /** Fills a registry read from a missing or damaged file (live runs, ...); returns what it put back, for the log. */
  readonly rebuild?: (reg: Registry, why: 'missing' | 'damaged') => string;
  /** Looks at a registry read whole: puts back claims of live runs another writer left out (a copy put back by hand); returns what it put back. */
  readonly review?: (reg: Registry) => string;
}

const HISTORY_MAX = 200;
const STATES: ReadonlySet<string> = new Set(['claimed', 'running', 'exited', 'interrupted', 'timed_out']);

export function emptyRegistry(): Registry {
  return { version: 1, claims: {}, history: [], holds: {} };
}

/** Why a value is not a claim (undefined when it is one); key is the claims-map key it sits under. */
export function claimProblem(v: unknown, key?: string): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object';
  const c = v as Record<string, unknown>;
  for (const k of ['id', 'slug', 'path', 'claimedBy', 'claimedAt', 'worktree']) if (typeof c[k] !== 'string') return `has no text ${k}`;
  if (c.id === '' || (key !== undefined && c.id !== key)) return `has id ${JSON.stringify(c.id)} under key ${JSON.stringify(key)}`;
  if (Number.isNaN(Date.parse(c.claimedAt as string))) return 'has a claimedAt that is not a time';
  for (const k of ['startedAt', 'pidStart', 'endedAt', 'log']) if (c[k] !== null && typeof c[k] !== 'string') return `has a ${k} that is neither text nor null`;
  for (const k of ['note', 'runId', 'fileId', 'branch', 'base']) if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'string') return `has a ${k} that is not text`;
  // pid 0, 1 or negative would make a liveness check or a signal reach the wrong processes.
  if (c.pid !== null && !(Number.isSafeInteger(c.pid) && (c.pid as number) > 1)) return 'has a pid that is not a process id above 1';
  if (c.exitCode !== null && !Number.isSafeInteger(c.exitCode)) return 'has an exitCode that is not an integer';
  if (typeof c.state !== 'string' || !STATES.has(c.state)) return `has an unknown state ${JSON.stringify(c.state)}`;
  return undefined;
}

function releasedProblem(v: unknown): string | undefined {
  const p = claimProblem(v);
  if (p) return p;
  const r = v as Record<string, unknown>;
  return typeof r.releasedAt === 'string' && typeof r.releaseReason === 'string' ? undefined : 'has no releasedAt or releaseReason';
}

/**
 * Checks a parsed document against the registry's schema: the valid claims and history entries,
 * and the first problems found (empty when the document is a valid registry).
 */
export function checkRegistry(doc: unknown): { reg: Registry; problems: string[] } {
  const reg = emptyRegistry();
  const problems: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { reg, problems: ['the document is not an object'] };
  const d = doc as Record<string, unknown>;
  if (d.version !== 1) problems.push(`version is ${JSON.stringify(d.version)}, not 1`);
  if (typeof d.claims !== 'object' || d.claims === null || Array.isArray(d.claims)) problems.push('claims is not an object');
  else {
    for (const [key, value] of Object.entries(d.claims)) {
      const p = claimProblem(value, key);
      if (p) problems.push(`claim ${JSON.stringify(key)} ${p}`);
      else reg.claims[key] = value as Claim;
    }
  }
  if (!Array.isArray(d.history)) problems.push('history is not a list');
  else {
    d.history.forEach((value: unknown, i) => {
      const p = releasedProblem(value);
      if (p) problems.push(`history entry ${i} ${p}`);
      else reg.history.push(value as Released);
    });
  }
  // Holds came later than the rest: a registry without them is whole, one with a bad entry is not.
  if (d.holds !== undefined) {
    if (typeof d.holds !== 'object' || d.holds === null || Array.isArray(d.holds)) problems.push('holds is not an object');
    else {
      for (const [key, value] of Object.entries(d.holds)) {
        const h = value as Partial<Hold> | null;
        if (typeof h !== 'object' || h === null || typeof h.since !== 'string' || typeof h.by !== 'string') problems.push(`hold ${JSON.stringify(key)} has no since or by`);
        else reg.holds[key] = { since: h.since, by: h.by };
      }
    }
  }
  return { reg, problems };
}

/** The registry as it is on disk for readers (status, the server): undefined when missing or damaged. Never writes. */
export function peekRegistry(file: string): Registry | undefined {
  try {
    const text = readTextFile(file);
    if (text === undefined) return undefined;
    const { reg, problems } = checkRegistry(JSON.parse(text));
    return problems.length ? undefined : reg;
  } catch (err) {
    if (err instanceof SyntaxError || isNotAFile(err) || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * Reads registry.json for a one-off look under no lock: a damaged file is kept aside (onCorrupt
 * hears of it) and what could still be read is returned.
 */
export function readRegistry(file: string, onCorrupt: (line: string) => void, now: Date): Registry {
  const read = inspectRegistryFile(file);
  if (read.damage) {
    const aside = keepAside(file, now);
    onCorrupt(`registry ${file} was corrupt: it ${read.damage}; kept it as ${aside}`);
  }
  return read.reg;
}

/** Reads registry.json and checks it against the schema; damage is described, nothing is moved. */
export function inspectRegistryFile(file: string): RegistryRead {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) return { reg: emptyRegistry(), missing: true, damage: undefined };
  if (!st.isFile()) return { reg: emptyRegistry(), missing: false, damage: `is not a file (${st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symlink' : 'a special file'})` };
  let doc: unknown;
  try {
    const text = readTextFile(file);
    // Gone or replaced between the lstat and the read.
    if (text === undefined) return { reg: emptyRegistry(), missing: true, damage: undefined };
    doc = JSON.parse(text);
  } catch (err) {
    if (err instanceof NotAFileError) return { reg: emptyRegistry(), missing: false, damage: `is not a file (${err.kind})` };
    if (!(err instanceof SyntaxError)) throw err;
    return { reg: emptyRegistry(), missing: false, damage: `is not JSON (truncated or corrupt: ${err.message})` };
  }
  const { reg, problems } = checkRegistry(doc);
  const more = problems.length > 3 ? ` and ${problems.length - 3} more` : '';
  return { reg, missing: false, damage: problems.length ? `does not match its schema: ${problems.slice(0, 3).join('; ')}${more}` : undefined };
}

/**
 * Read-modify-write of registry.json under its lock; the write is atomic. A damaged file is kept
 * aside (registry.json.corrupt-<time>) with what could still be read, and the hooks rebuild the
 * rest; a missing one is rebuilt too. If writing fails (a full disk), nothing is half-written: a
 * damaged file that was not a folder is still in place for the next try.
 */
export async function updateRegistry<T>(file: string, fn: (reg: Registry) => T, hooksOrLog: RegistryHooks | ((line: string) => void), now?: () => Date): Promise<T> {
  const hooks: RegistryHooks = typeof hooksOrLog === 'function' ? { log: hooksOrLog, now: now ?? ((): Date => new Date()) } : hooksOrLog;
  makeFolders(path.dirname(file), 2);
  // A kernel-held lock (abstract socket) named after the file: released even if this process dies.
  // Loaded here: the lock's socket and hashing code is for writers; readers (status) never pay for it.
  const { acquireLock } = await import('../supervise/lock.ts');
  const lock = await acquireLock(file);
  try {
    const read = inspectRegistryFile(file);
    const reg = read.reg;
    const before = read.missing || read.damage ? '' : JSON.stringify(reg);
    let aside: string | undefined;
    let put = '';
    if (read.missing || read.damage) put = hooks.rebuild?.(reg, read.damage ? 'damaged' : 'missing') ?? '';
    else put = hooks.review?.(reg) ?? '';
    if (read.damage) aside = keepAside(file, hooks.now());
    try {
      const result = fn(reg);
      if (reg.history.length > HISTORY_MAX) reg.history.splice(0, reg.history.length - HISTORY_MAX);
      const text = JSON.stringify(reg);
      if (text !== before && !(read.missing && text === JSON.stringify(emptyRegistry()))) writeFileAtomic(file, JSON.stringify(reg, null, 2) + '\n');
      if (aside) hooks.log(`${hooks.now().toISOString()} registry ${file} was corrupt: it ${read.damage}; kept it as ${aside} and rebuilt it (${put || 'nothing alive to put back'})`);
      else if (read.missing && put) hooks.log(`${hooks.now().toISOString()} registry ${file} was missing; rebuilt it (${put})`);
      else if (put) hooks.log(`${hooks.now().toISOString()} registry ${file} had no claim for live runs (rewritten by another process or by hand); put them back (${put})`);
      return result;
    } catch (err) {
      // The damaged file is still in place (only a link was made): drop the link, retry next time.
      if (aside && fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) fs.rmSync(aside, { force: true });
      throw err;
    }
  } finally {
    lock.release();
  }
}

/**
 * Keeps a damaged registry under a new name: a file is hard-linked (no space needed, and the
 * original stays until the atomic write replaces it); anything else (a folder) is renamed.
 */
function keepAside(file: string, now: Date): string {
  const base = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  let aside = base;
  for (let i = 2; fs.lstatSync(aside, { throwIfNoEntry: false }) !== undefined; i++) aside = `${base}-${i}`;
  if (fs.lstatSync(file).isFile()) fs.linkSync(file, aside);
  else fs.renameSync(file, aside);
  return aside;
}

/** Moves a claim to the history with a reason. */
export function release(reg: Registry, id: string, reason: string, now: Date): void {
  const claim = reg.claims[id];
  if (!claim) return;
  delete reg.claims[id];
  reg.history.push({ ...claim, releasedAt: now.toISOString(), releaseReason: reason });
}

/** True when this host answers for the claim's run: the file registry's claims all are; a shared registry's carry their host. */
export function isLocal(c: Claim, host: string | undefined): boolean {
  return c.host === undefined || host === undefined || c.host === host;
}

/** The key of the claim whose run carries runId, if any. */
export function claimKeyOfRun(reg: Registry, runId: string): string | undefined {
  for (const [key, c] of Object.entries(reg.claims)) if (c.runId === runId) return key;
  return undefined;
}
