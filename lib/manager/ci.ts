// CI state of the tasks' pull requests: the frontmatter's ci: wins, else `gh pr checks`, asked in the background at most once per 5 minutes per PR.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { bounded } from '../base/bounded.ts';
import { oneLine } from '../base/git.ts';
import { prLink } from '../tasks/pr.ts';
import type { CiState, Task } from '../tasks/taskfile.ts';
import { Pool, settleWithin } from './pool.ts';
import type { SnapshotCi } from './tick.ts';

/** A task's CI as the snapshot carries it (`ci` at the top level, by task id). */
export type CiEntry = SnapshotCi;

/** A PR is asked about at most this often. */
export const CI_TTL_MS = 5 * 60_000;
/** gh is killed after this long; the PR's state is then unknown until the next try. */
export const GH_TIMEOUT_MS = 10_000;

/**
 * gh's checks (`gh pr checks --json name,state,bucket`) as one state: failing when any failed or
 * was cancelled, pending when any is still pending, passing when all passed or were skipped;
 * unknown for no checks or anything else.
 */
export function summariseChecks(doc: unknown): CiState {
  if (!Array.isArray(doc) || doc.length === 0) return 'unknown';
  const buckets = doc.map((c: unknown) => (typeof c === 'object' && c !== null ? String((c as { bucket?: unknown }).bucket ?? '') : ''));
  // A cancelled check did not pass: someone has to run it again, as with a failure.
  if (buckets.some((b) => b === 'fail' || b === 'cancel')) return 'failing';
  if (buckets.some((b) => b === 'pending')) return 'pending';
  return buckets.every((b) => b === 'pass' || b === 'skipping') ? 'passing' : 'unknown';
}

/** The first executable `name` in a PATH value, if any. */
export function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch (err) {
      // Not there, or not executable: the next folder of PATH may have it.
      if (!['ENOENT', 'EACCES', 'ENOTDIR'].some((c) => isErrno(err, c))) throw err;
    }
  }
  return undefined;
}

/**
 * True when the task's file says what its CI is: `ci:` holds a CI state (docs/task-format.md), and
 * that wins over gh. A value that is no CI state (`ci: bogus`, `ci: unknown`) says nothing: gh decides.
 */
export function ciWritten(t: Task): boolean {
  return t.ci !== 'unknown';
}

export interface CiOptions {
  /** The environment gh runs with (its PATH decides whether gh is there). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where gh runs: the repository root once git has said where it is (its remote names the repository). */
  readonly cwd: () => string;
  readonly now: () => Date;
  readonly log: (line: string) => void;
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
}

interface Answer { state: CiState; checkedAt: string | null; at: number; job: Promise<void> | undefined; said?: string }

/**
 * The CI of the tasks' pull requests. A tick reads what is known and never waits: a PR whose
 * answer is missing or older than the ttl is asked about in the background (two gh at a time),
 * and its answer shows from the next tick on.
 */
export class CiChecks {
  private readonly o: CiOptions;
  private readonly pool = new Pool(2);
  private readonly answers = new Map<string, Answer>();
  private readonly ac = new AbortController();

  constructor(o: CiOptions) {
    this.o = o;
  }

  /** The CI of every task with a `pr:` or `ci:`, by task id; asks gh for open tasks' PRs as needed. */
  states(tasks: Iterable<Task>): Record<string, CiEntry> {
    const out: Record<string, CiEntry> = {};
    let gh: string | null | undefined;
    for (const t of tasks) {
      if (ciWritten(t)) {
        out[t.id] = { state: t.ci, checkedAt: null, pr: t.pr, source: 'frontmatter' };
        continue;
      }
      const arg = ghArgument(t.pr);
      if (arg === undefined) {
        if (t.pr !== null) out[t.id] = { state: 'unknown', checkedAt: null, pr: t.pr, source: 'none' };
        continue;
      }
      // A finished or archived task's PR is not asked about again: its CI no longer needs anyone.
      const open = t.status !== 'completed' && t.status !== 'cancelled' && !t.archived;
      if (open && (gh ??= findOnPath('gh', this.o.env.PATH) ?? null) !== null) this.ask(arg);
      const a = this.answers.get(arg);
      out[t.id] = a && a.checkedAt !== null ? { state: a.state, checkedAt: a.checkedAt, pr: t.pr, source: 'gh' } : { state: 'unknown', checkedAt: null, pr: t.pr, source: 'none' };
    }
    return out;
  }

  /** Resolves when the gh calls under way have ended (each is time-boxed): `heartbeat --once` waits for them. */
  async settled(): Promise<void> {
    await settleWithin([...this.answers.values()].flatMap((a) => a.job ?? []), Infinity);
  }

  /** Stops gh calls still running (the heartbeat is stopping). */
  async close(): Promise<void> {
    this.ac.abort();
    await settleWithin([...this.answers.values()].flatMap((a) => a.job ?? []), 2000);
  }

  private ask(arg: string): void {
    const now = this.o.now().getTime();
    const a = this.answers.get(arg) ?? { state: 'unknown' as CiState, checkedAt: null, at: -Infinity, job: undefined };
    this.answers.set(arg, a);
    if (a.job !== undefined || now - a.at < (this.o.ttlMs ?? CI_TTL_MS)) return;
    // The try counts from its start, failed or not: a PR is asked about at most once per ttl.
    a.at = now;
    a.job = this.pool.run(() => this.checks(arg)).then(({ state, why }) => {
      Object.assign(a, { state, checkedAt: this.o.now().toISOString() });
      const said = `${state}${why ? ` (${why})` : ''}`;
      if (said !== a.said) this.o.log(`${this.o.now().toISOString()} CI of PR ${arg}: ${said}`);
      a.said = said;
    }).finally(() => { a.job = undefined; });
  }

  /** Asks gh about one PR; never throws. */
  private async checks(arg: string): Promise<{ state: CiState; why?: string }> {
    const timeoutMs = this.o.timeoutMs ?? GH_TIMEOUT_MS;
    const env = { ...this.o.env, GH_PROMPT_DISABLED: '1', GH_NO_UPDATE_NOTIFIER: '1' };
    const r = await bounded(this.o.cwd(), { env, timeoutMs, signal: this.ac.signal }, (sh) => sh`gh pr checks ${arg} --json name,state,bucket`);
    if (r.error !== undefined) return { state: 'unknown', why: `gh could not run: ${r.error}` };
    if (r.killed === 'timeout') return { state: 'unknown', why: `gh took longer than ${timeoutMs / 1000} s and was killed` };
    if (r.code === null) return { state: 'unknown', why: 'gh was stopped' };
    // gh prints the checks as JSON whatever its exit code says (8 means pending); anything else is a failure.
    let doc: unknown;
    try {
      doc = JSON.parse(r.stdout);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const said = oneLine(r.stderr);
      return { state: 'unknown', why: `gh exited with code ${r.code}${said ? `: ${said}` : ''}` };
    }
    return { state: summariseChecks(doc), ...(Array.isArray(doc) && doc.length === 0 ? { why: 'no checks' } : {}) };
  }
}

/** The tasks' escalation reasons plus "CI failing" for each task whose PR gh says is failing (the file's own `ci:` is in reasons already). */
export function withCiReasons(reasons: ReadonlyMap<string, string[]>, ci: Readonly<Record<string, CiEntry>>, finished: (id: string) => boolean): ReadonlyMap<string, string[]> {
  let out: Map<string, string[]> | undefined;
  for (const [id, e] of Object.entries(ci)) {
    // A finished task's last answer is shown, but it needs nobody.
    if (e.source !== 'gh' || e.state !== 'failing' || finished(id)) continue;
    out ??= new Map(reasons);
    out.set(id, [...(reasons.get(id) ?? []), `CI failing on ${e.pr ?? 'its PR'}`]);
  }
  return out ?? reasons;
}

/** What gh is asked about: the PR's URL when `pr:` is one, else its number; undefined when `pr:` names no PR number. */
function ghArgument(pr: string | null): string | undefined {
  const link = prLink(pr, undefined);
  if (!link || link.number === null) return undefined;
  return link.url ?? String(link.number);
}
