// The manager registry (registry.json): claims and runs of every owner, updated under a lock.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../base/atomic.ts';
import { readTextFile } from '../base/jsonfile.ts';
import { acquireLock } from '../supervise/lock.ts';

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
  /** running: the dispatch command runs; exited: it ended (see exitCode); interrupted: stopped with its heartbeat. */
  state: 'claimed' | 'running' | 'exited' | 'interrupted';
  exitCode: number | null;
  endedAt: string | null;
  log: string | null;
  /** Why an interrupted run ended, when known. */
  note?: string;
}

/** A finished claim, kept for history when released. */
export interface Released extends Claim { releasedAt: string; releaseReason: string }

/** registry.json: shared by every owner working on one tasks folder. */
export interface Registry {
  version: 1;
  claims: Record<string, Claim>;
  history: Released[];
}

const HISTORY_MAX = 200;

export function emptyRegistry(): Registry {
  return { version: 1, claims: {}, history: [] };
}

/**
 * Reads registry.json. A corrupt file is moved aside (registry.json.corrupt-<time>) so nothing but
 * its bytes is lost, and the registry starts empty; onCorrupt hears about it in one line.
 */
export function readRegistry(file: string, onCorrupt: (line: string) => void, now: Date): Registry {
  const text = readTextFile(file);
  if (text === undefined) return emptyRegistry();
  try {
    const doc = JSON.parse(text) as Partial<Registry>;
    if (doc && typeof doc === 'object' && doc.claims && typeof doc.claims === 'object' && !Array.isArray(doc.claims)) {
      return { version: 1, claims: doc.claims, history: Array.isArray(doc.history) ? doc.history : [] };
    }
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  const aside = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  fs.renameSync(file, aside);
  onCorrupt(`registry ${file} was corrupt; kept it as ${aside} and started empty`);
  return emptyRegistry();
}

/** Read-modify-write of registry.json under its lock; the write is atomic. */
export async function updateRegistry<T>(file: string, fn: (reg: Registry) => T, onCorrupt: (line: string) => void, now: () => Date): Promise<T> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // A kernel-held lock (abstract socket) named after the file: released even if this process dies.
  const lock = await acquireLock(file);
  try {
    const reg = readRegistry(file, onCorrupt, now());
    const before = JSON.stringify(reg);
    const result = fn(reg);
    if (reg.history.length > HISTORY_MAX) reg.history.splice(0, reg.history.length - HISTORY_MAX);
    const after = JSON.stringify(reg, null, 2);
    if (JSON.stringify(reg) !== before) writeFileAtomic(file, after + '\n');
    return result;
  } finally {
    lock.release();
  }
}

/** Moves a claim to the history with a reason. */
export function release(reg: Registry, id: string, reason: string, now: Date): void {
  const claim = reg.claims[id];
  if (!claim) return;
  delete reg.claims[id];
  reg.history.push({ ...claim, releasedAt: now.toISOString(), releaseReason: reason });
}
