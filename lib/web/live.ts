// The live site: the model kept current from folder watches, rebuilds, and server-sent events.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { isErrno } from '../base/errors.ts';
import { readJsonFile } from '../base/jsonfile.ts';
import { livePid } from '../supervise/pidfile.ts';
import { type RuntimePaths, runtimePaths } from '../base/paths.ts';
import { TaskScanner } from '../tasks/scan.ts';
import { FolderWatcher } from '../base/watch.ts';
import { type BuildResult, SiteBuilder } from './site.ts';
import type { Registry } from '../manager/registry.ts';
import type { ParseError, Task } from '../tasks/taskfile.ts';
import type { Snapshot } from '../manager/tick.ts';

export interface LiveSiteOptions {
  readonly owner: string;
  readonly dir: string;
  readonly project: string;
  /** Where the pages go: the server's build folder, or build's out=. */
  readonly out: string;
  /** True for the server's own build folder: stale pages found there are removed. */
  readonly ownFolder: boolean;
  readonly now: () => Date;
}

/**
 * The dashboard build folder kept in step with the task files and the snapshot: rebuild() scans
 * incrementally and re-renders only what changed.
 */
export class LiveSite {
  readonly paths: RuntimePaths;
  private readonly scanner: TaskScanner;
  private readonly builder: SiteBuilder;
  version = 0;
  /** The task model of the last rebuild: what the pages show, and what /api/tasks answers from. */
  current: { tasks: Task[]; errors: ParseError[] } = { tasks: [], errors: [] };

  constructor(readonly options: LiveSiteOptions) {
    this.paths = runtimePaths(options.dir, options.owner);
    this.scanner = new TaskScanner(options.dir);
    this.builder = new SiteBuilder(options.out, { pruneUnknown: options.ownFolder });
  }

  /** Scans (only the given task files when known) and renders; returns what was written. */
  rebuild(changed?: readonly string[]): BuildResult {
    const { tasks, errors } = changed ? this.scanner.rescan(changed) : this.scanner.scan();
    this.current = { tasks, errors };
    const pid = livePid(this.paths.heartbeatPid, { kind: 'heartbeat', owner: this.options.owner, dir: this.options.dir });
    const result = this.builder.build({
      project: this.options.project,
      tasks,
      errors,
      snapshot: withRegistryClaims(readJsonFile<Snapshot>(this.paths.snapshot), readJsonFile<Registry>(this.paths.registry)),
      heartbeat: { running: pid !== undefined, pid: pid ?? null },
      now: this.options.now(),
    });
    if (result.written || result.removed) this.version += 1;
    return result;
  }

  /**
   * Watches the task files and this owner's snapshot (inotify through fs.watch, no polling) and
   * calls onChange after a debounced rebuild that wrote something. Returns a stop function.
   */
  watch(onChange: (result: BuildResult) => void, onError: (err: Error) => void, debounceMs = 100): () => void {
    const watched = new Set([path.basename(this.paths.snapshot), path.basename(this.paths.heartbeatPid), 'registry.json']);
    let timer: NodeJS.Timeout | undefined;
    const fire = (): void => {
      timer = undefined;
      try {
        const result = this.rebuild(watcher.take());
        if (result.written || result.removed) onChange(result);
      } catch (err) {
        onError(err as Error);
      }
    };
    const schedule = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, debounceMs);
    };
    const watcher = new FolderWatcher(this.options.dir, this.paths.stateDir, (event) => {
      // The snapshot, the heartbeat starting or stopping, and claims changing between ticks.
      if (event.kind !== 'state' || watched.has(event.name)) schedule();
    }, onError);
    watcher.sync();
    return () => {
      if (timer) clearTimeout(timer);
      watcher.close();
    };
  }


}

/**
 * The snapshot's claims as the registry has them now: a run that ended or was interrupted after
 * the last tick (the heartbeat stopped, say) shows so without waiting for a tick that may never come.
 */
export function withRegistryClaims(snapshot: Snapshot | undefined, registry: Registry | undefined): Snapshot | undefined {
  if (!snapshot || !registry?.claims) return snapshot;
  const claims = snapshot.claims
    .filter((c) => registry.claims[c.id] !== undefined)
    .map((c) => ({ ...c, ...registry.claims[c.id] }));
  return { ...snapshot, claims };
}

/** Server-sent events to every open dashboard: one `change` event per rebuild. */
export class EventHub {
  private readonly clients = new Set<http.ServerResponse>();

  /** Takes over a response as an event stream. */
  attach(req: http.IncomingMessage, res: http.ServerResponse, version: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: hello\ndata: {"version":${version}}\n\n`);
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  /** Tells every client the site changed. */
  send(version: number): void {
    for (const res of this.clients) res.write(`event: change\ndata: {"version":${version}}\n\n`);
  }

  /** Ends every stream (on shutdown). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

/** The project name for the page title: package.json's name beside the tasks folder, else that folder's name. */
export function projectName(dir: string): string {
  const root = path.dirname(dir);
  let name = path.basename(root);
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name) name = pkg.name.replace(/^@[^/]+\//, '');
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
  }
  return name.charAt(0).toUpperCase() + name.slice(1);
}
