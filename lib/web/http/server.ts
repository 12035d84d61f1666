// The tasks server: port rules (bind first), the pid file, the build thread and the routes, answering from the moment it is bound.
import http from 'node:http';
import path from 'node:path';
import { TasksError } from '../../base/errors.ts';
import { isNotAFile } from '../../base/jsonfile.ts';
import { shellArg } from '../../base/shellword.ts';
import { type Expected, publishPidFile, removePidFileIf } from '../../supervise/pidfile.ts';
import { type RuntimePaths, runtimePaths } from '../../base/paths.ts';
import { type Health, findOwnServer, probeHealth, serverUrl } from './probe.ts';
import { BuildThread } from '../site/build-thread.ts';
import type { ThreadStart } from '../site/build-protocol.ts';
import type { SharedRegistry } from '../site/registry-poll.ts';
import { type EventData, EventHub } from './events.ts';
import { startLogStream } from './log-stream.ts';
import { createRoutes } from './routes.ts';
import { pageVersion } from '../site/page-version.ts';
import { staticPath } from './statics.ts';
import { startUpkeep } from './upkeep.ts';
import { type Remote, parseRemote } from '../../tasks/pr.ts';

export interface ServeInput {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  readonly portGiven: boolean;
  /** Recorded in the server pid file: only a detached server is stopped by `stop`. */
  readonly detached: boolean;
  /** The dashboard title's project; undefined: the build thread reads it from the folder. */
  readonly project: string | undefined;
  /** What a hint adds after `just tasks retry id=…` to name this tasks folder: ` dir=<dir>` (shell-quoted), or '' (the default: the default folder). */
  readonly folderWords?: string;
  /** Hears about rebuild failures (the server keeps serving the last good pages). */
  readonly log: (line: string) => void;
  /** This process, never taken for the heartbeat. */
  readonly self: { readonly pid: number; readonly ppid: number };
  /** Seconds past 3 intervals before a silent heartbeat shows as stuck. */
  readonly stuckSlackS?: number;
  /** How to start the build thread (the entry script and its node arguments). */
  readonly thread: ThreadStart;
  /** A shared registry (registry=postgres://…): the pages show every host's claims from it. */
  readonly shared?: SharedRegistry | undefined;
  /**
   * Called once the port is ours, before anything else starts: the caller starts the heartbeat
   * here, so a taken port starts nothing and the heartbeat's start overlaps the build.
   */
  readonly onBound?: () => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Set when the default port was taken and another one was used. */
  readonly movedFrom: number | undefined;
  /** What held the default port, when it was one of our servers ("the tasks server of owner x for /dir"). */
  readonly movedBy: string | undefined;
  /**
   * Resolves once a build made after this call is on disk (the first one included): called when the
   * heartbeat is up, so the pages show it. Requests are answered all along, from the last build.
   */
  current(): Promise<void>;
  close(): Promise<void>;
}

export type ServeOutcome =
  | { readonly kind: 'already'; readonly url: string; readonly pid: number | undefined }
  | { readonly kind: 'listening'; readonly server: RunningServer };

/** How a tasks server holding a port is named in messages. */
function holderName(h: Health): string {
  return `the tasks server of owner ${h.owner} for ${h.dir}`;
}

/**
 * Starts the tasks server with the port rules (docs/operations.md): this owner's own server already
 * running → report it; an explicit port that is taken → fail naming host:port and its holder when
 * it is another tasks server; the default taken by something else → the next free port. The port
 * is bound before anything else starts (onBound), so a failure leaves nothing behind.
 */
export async function startServer(input: ServeInput): Promise<ServeOutcome> {
  const paths = runtimePaths(input.dir, input.owner);
  const own = await findOwnServer(input);
  if (own) return { kind: 'already', url: own.url, pid: own.pid };
  // Requests are answered from the moment the port is bound: from the previous build's pages while
  // the build thread brings them up to date (open pages hear of each change), or with a page that
  // says the dashboard is being built and reloads itself when it is.
  let handle: http.RequestListener | undefined;
  const server = http.createServer((req, res) => handle?.(req, res));
  let port = input.port;
  let movedFrom: number | undefined;
  let movedBy: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const result = await listen(server, port, input.host);
    if (result === 'ok') break;
    if (result !== 'EADDRINUSE') throw new TasksError(`cannot listen on ${input.host}:${port}: ${result}; pass another host= or port=`);
    const holder = await probeHealth(serverUrl(input.host, port));
    if (holder && holder.owner === input.owner && holder.dir === input.dir) return { kind: 'already', url: holder.url, pid: holder.pid };
    if (input.portGiven) {
      throw new TasksError(holder
        ? `port ${input.host}:${port} is taken by ${holderName(holder)}; pass another port= or stop that server (just tasks stop ${shellArg('owner', holder.owner)} ${shellArg('dir', holder.dir)})`
        : `port ${input.host}:${port} is already in use by another process; pass another port= or stop what holds it`);
    }
    if (attempt >= 20) throw new TasksError(`no free port found near ${input.port} on ${input.host}; pass port=<free port>`);
    if (attempt === 0 && holder) movedBy = holderName(holder);
    movedFrom = input.port;
    // get-port only checks; the listen() above is the real test, so a port taken meanwhile loops.
    // Loaded here: only a taken default port needs it.
    const { default: getPort, portNumbers } = await import('get-port');
    port = await getPort({ port: portNumbers(Math.min(port + 1, 65535), Math.min(port + 100, 65535)), host: input.host });
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = serverUrl(input.host, boundPort);
  const expected: Expected = { kind: 'serve', owner: input.owner, dir: input.dir };
  const extra = {
    url, host: input.host, port: String(boundPort), detached: input.detached ? '1' : '0',
    ...(movedFrom !== undefined ? { movedFrom: String(movedFrom) } : {}), ...(movedBy !== undefined ? { movedBy } : {}),
  };
  const publish = (): void => publishPidFile(paths.serverPid, expected, extra);
  publish();
  input.onBound?.();
  let site: ReturnType<typeof startSite>;
  try {
    site = startSite(input, paths, url, publish);
  } catch (err) {
    // A site that cannot even start must not leave a listening socket behind (the process would never exit).
    server.closeAllConnections();
    server.close();
    unpublish(paths.serverPid);
    throw err;
  }
  handle = site.handle;
  const { thread, stop } = site;
  let closed = false;
  let asked = false;
  /**
   * Asks git for the remote once, the first time a task's `pr:` is a bare number (a URL needs no
   * remote): most folders never pay for it, and none pays before its first page is served. The
   * pages are rebuilt with the links when it answers.
   */
  const askRemote = (): void => {
    if (asked || closed || thread.model?.barePr !== true) return;
    asked = true;
    void readRemote(input.dir, input.log).then((remote) => {
      if (remote === undefined || closed) return;
      return thread.setRemote(remote);
    }).catch((err: unknown) => input.log(`dashboard rebuild failed: ${(err as Error).message}`));
  };
  site.onBuilt = askRemote;
  return {
    kind: 'listening',
    server: {
      url,
      port: boundPort,
      movedFrom,
      movedBy,
      current: async () => {
        await thread.rebuild([]);
      },
      close: async () => {
        closed = true;
        await stop();
        unpublish(paths.serverPid);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      },
    },
  };
}

/** The build thread, the routes over it, the event stream, run logs and upkeep; stop() ends them all; onBuilt hears of every build. */
function startSite(input: ServeInput, paths: RuntimePaths, url: string, publish: () => void): { thread: BuildThread; handle: http.RequestListener; stop: () => Promise<void>; onBuilt: () => void } {
  const hub = new EventHub();
  // What a page hears at hello and at each change: the build's version, and the version of the page
  // it shows as it is on disk now (the trailer the build ends each page with). A page whose version
  // differs fetches itself again; one that matches does nothing (docs/architecture.md).
  const eventData: EventData = (page) => {
    const version = thread.version;
    if (page === undefined) return { version };
    const rel = staticPath(page);
    // While the pages answer "being built", no page is named: that page would reload into itself.
    return { version, page: rel === undefined || !thread.pagesShown() || !thread.serves(rel) ? null : pageVersion(path.join(paths.site, rel)) };
  };
  const thread = new BuildThread({
    owner: input.owner, dir: input.dir, project: input.project, folderWords: input.folderWords, paths, self: input.self, stuckSlackS: input.stuckSlackS, start: input.thread, log: input.log, shared: input.shared,
    onBuilt: (result) => {
      if (result.written || result.removed) hub.send(eventData);
      site.onBuilt();
    },
  });
  const handle = createRoutes({ owner: input.owner, dir: input.dir, host: input.host, pid: process.pid, log: input.log, eventData, hostName: input.shared?.host }, paths, () => url, thread, hub);
  const stopLogs = startLogStream({ paths, hub, log: input.log });
  const stopUpkeep = startUpkeep({
    site: thread, dir: input.dir, stateDir: paths.stateDir, pidFile: paths.serverPid, expected: { kind: 'serve', owner: input.owner, dir: input.dir }, selfPid: process.pid,
    publish, log: input.log,
  });
  const site = {
    thread,
    handle,
    onBuilt: (): void => undefined,
    stop: async (): Promise<void> => {
      stopLogs();
      stopUpkeep();
      hub.close();
      await thread.close();
    },
  };
  return site;
}

/**
 * The repository's remote as host and owner/name, or undefined (not in git, no remote, a local
 * path, git missing or slower than 3 s). Asked once per server: a remote rarely changes while it runs.
 */
async function readRemote(dir: string, log: (line: string) => void): Promise<Remote | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), 3000); });
  try {
    // Loaded here: zx (behind git.ts) costs ~0.15 s to import, paid while the heartbeat starts, not before the bind.
    const asked = import('../../base/git.ts').then((git) => git.remoteUrl(dir, { timeoutMs: 3000 })).then((url) => (url === undefined ? undefined : parseRemote(url)));
    return await Promise.race([asked, late]);
  } catch (err) {
    // Without a remote a PR number shows as text; the server serves on.
    log(`cannot read the git remote of ${dir} (${(err as Error).message}); PR numbers show without links`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** Removes the server pid file if it still names this process; a folder or a FIFO in its place is left alone. */
function unpublish(file: string): void {
  try {
    removePidFileIf(file, process.pid);
  } catch (err) {
    if (!isNotAFile(err)) throw err;
  }
}

function listen(server: http.Server, port: number, host: string): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => { server.off('listening', onListening); resolve(err.code ?? err.message); };
    const onListening = (): void => { server.off('error', onError); resolve('ok'); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
