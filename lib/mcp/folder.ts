// What the MCP server reads, live on every call: the tasks folder (one scanner, rescanned per call) and the registry's claims.
import type { Options } from '../cli/args.ts';
import type { Cli } from '../cli/context.ts';
import { storeFor } from '../cli/store.ts';
import type { Registry } from '../manager/registry.ts';
import type { RegistryStore } from '../manager/store.ts';
import { type TaskIndex, dependencyProblems, readyCandidates, readyStatuses, taskIndex } from '../tasks/model.ts';
import { type ScanResult, TaskScanner } from '../tasks/scan.ts';
import type { Task } from '../tasks/taskfile.ts';

/** One read of the folder: the scan, the registry as it is now, and what dispatch would take next. */
export interface Reading {
  readonly scan: ScanResult;
  readonly registry: Registry | undefined;
  readonly index: TaskIndex;
  readonly problems: ReadonlyMap<string, string>;
  /** Ready status, dependencies completed, no dependency problem: best first (claims and holds not yet filtered). */
  readonly candidates: readonly Task[];
  /** The candidates nobody claims or holds: what the heartbeat dispatches next, best first. */
  readonly dispatchable: readonly Task[];
}

/** The tasks folder and registry one server reads; every read re-stats the files (no stale copy survives a call). */
export class McpFolder {
  readonly dir: string;
  readonly owner: string;
  /** The statuses that count as ready (ready=). */
  readonly ready: readonly string[];
  private readonly scanner: TaskScanner;
  private store: Promise<RegistryStore> | undefined;

  constructor(private readonly o: Options, private readonly cli: Cli) {
    this.dir = o.dir;
    this.owner = o.owner;
    this.ready = o.ready;
    // The scanner re-reads every file whose mtime, size or inode changed since the last call.
    this.scanner = new TaskScanner(o.dir, { keepBody: true });
  }

  /** The folder now, with the registry's claims now. */
  async read(): Promise<Reading> {
    const scan = this.scanner.scan();
    const registry = await this.registry();
    const index = taskIndex(scan.tasks);
    const problems = dependencyProblems(scan.tasks, index);
    const candidates = readyCandidates(scan.tasks, problems, (t) => t.created ?? '', index, readyStatuses(this.ready));
    const dispatchable = candidates.filter((t) => claimOf(registry, t) === undefined && registry?.holds[t.id] === undefined);
    return { scan, registry, index, problems, candidates, dispatchable };
  }

  /** The registry as its store has it now (undefined: none yet, or a damaged file). One store per server: a database is connected once. */
  async registry(): Promise<Registry | undefined> {
    this.store ??= storeFor(this.o, this.cli);
    let store: RegistryStore;
    try {
      store = await this.store;
    } catch (err) {
      this.store = undefined; // a database that could not be reached is tried again at the next call
      throw err;
    }
    return store.peek();
  }

  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await (await store?.catch(() => undefined))?.close();
  }
}

/** A task's current claim: by id, else by file name (the file's id was edited since it was claimed). */
export function claimOf(reg: Registry | undefined, t: { id: string; slug: string }): Registry['claims'][string] | undefined {
  const claims = Object.values(reg?.claims ?? {});
  return claims.find((c) => c.id === t.id) ?? claims.find((c) => c.slug === t.slug);
}
