// Between the server and its build thread: how the thread is started, what the server asks and what the thread reports.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Remote } from '../../tasks/pr.ts';
import type { ApiAnswer, ApiAsk } from './api-answers.ts';
import type { HeartbeatView } from './heartbeat-view.ts';
import type { SharedRegistry } from './registry-poll.ts';
import type { BuildResult } from './site-files.ts';

/** How the worker is started: the program's entry (which runs build-worker.ts when it is a build thread) and its node arguments. */
export interface ThreadStart { readonly script: string; readonly nodeArgs: readonly string[] }

/** What the entry hands the worker; `role` is how the entry knows it runs as the build thread. */
export interface BuildWorkerData {
  readonly role: 'tasks-build';
  readonly owner: string;
  readonly dir: string;
  /** undefined: the folder's own name for it (projectName), worked out in the thread. */
  readonly project: string | undefined;
  /** What a hint adds after `just tasks retry id=…` to name this tasks folder: ` dir=<dir>` (shell-quoted), or '' (the default: the default folder). */
  readonly folderWords?: string;
  readonly stuckSlackS: number | undefined;
  readonly self: { readonly pid: number; readonly ppid: number };
  /** A shared registry: the worker reads claims from the database (the URL stays in memory, never in a command line). */
  readonly shared?: SharedRegistry | undefined;
  /** Where `pr: 123` links to, when git answered before this thread started (a restarted thread keeps the links). */
  readonly remote?: Remote | undefined;
}

/** The server's requests; each is answered by one `built` with the same id. */
export type Command =
  | { readonly t: 'rebuild'; readonly id: number; readonly changed: string[] | null }
  | { readonly t: 'rearm'; readonly id: number }
  | { readonly t: 'forget'; readonly id: number }
  | { readonly t: 'remote'; readonly id: number; readonly remote: Remote }
  /** A task page (`tasks/<page>.html`) a request wants: rendered next if a build left it pending. */
  | { readonly t: 'page'; readonly id: number; readonly rel: string }
  /** A task route's question, answered from the thread's model by one `answer` with the same id (api-answers.ts). */
  | { readonly t: 'ask'; readonly id: number; readonly ask: ApiAsk };

/**
 * What the server's thread learns of a model that changed: that there is one (the task routes
 * answer 503 until then), and whether a task's `pr:` is a bare number (the remote is asked for
 * then). The tasks stay in the build thread, which answers the task routes.
 */
export interface ModelUpdate { readonly barePr: boolean }

/** The build folder's files (its manifest) since the last report: all of them afresh (reset: a new thread's first), or what was added and dropped. */
export interface FilesUpdate { readonly reset: boolean; readonly add: readonly string[]; readonly drop: readonly string[] }

/**
 * What the thread reports: a change waiting out the debounce, the answer to a question, a build (asked for, or
 * from a watch: id null), task pages it rendered (those asked for by `ids`, or a background slice),
 * a watch error. `pending`: the task pages still to render.
 */
export type Report =
  | { readonly t: 'pending' }
  | { readonly t: 'answer'; readonly id: number; readonly answer?: ApiAnswer; readonly error?: string }
  | { readonly t: 'built'; readonly id: number | null; readonly result: BuildResult; readonly files?: FilesUpdate | undefined; readonly version: number; readonly heartbeat: HeartbeatView; readonly pending: number; readonly model?: ModelUpdate; readonly error?: string }
  | { readonly t: 'pages'; readonly ids: readonly number[]; readonly result: BuildResult; readonly files?: FilesUpdate | undefined; readonly version: number; readonly pending: number; readonly error?: string }
  | { readonly t: 'error'; readonly message: string };

/**
 * The build thread's young generation: V8 grows it to 16 MB semi-spaces (about 48 MB) under a full
 * build's allocation and keeps it; 6 MB keeps the server about 47 MB smaller after a start at
 * 10,000 tasks (PSS 331 to 284 MB) with no slower start (first list 2.2–2.7 s against 2.3–2.9 s,
 * every page 8–16 s either way, three cold starts each).
 */
const BUILD_LIMITS = { maxYoungGenerationSizeMb: 6 };

/**
 * Starts the entry as a worker. The bundle loads as is. The TypeScript sources (the parent runs
 * with `--import tsx`) need tsx registered in the worker first: a worker does not run the parent's
 * --import, so it calls tsx's register() before it imports the entry.
 */
export function spawnWorker(start: ThreadStart, data: BuildWorkerData): Worker {
  const options = { workerData: data, resourceLimits: BUILD_LIMITS };
  if (!start.nodeArgs.includes('--import')) return new Worker(start.script, options);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(start.script).href)}); })`;
  return new Worker(code, { ...options, eval: true });
}
