// Recognising a tasks server: its health document, and this owner's server found from its pid file.
import fs from 'node:fs';
import { runtimePaths } from '../../base/paths.ts';
import { isNotAFile, readTextFile } from '../../base/jsonfile.ts';
import { markerArgs, parsePidFile } from '../../supervise/pidfile.ts';
import { allPids, hasArgs, listeningPorts, ownedByUs } from '../../supervise/proc.ts';
import type { HeartbeatHealth, HeartbeatState } from '../../supervise/health.ts';
import type { SnapshotRegistry } from '../../manager/tick.ts';
import type { BuildState } from '../site/build-state.ts';

/**
 * The health document (200 when the heartbeat is running, else 503 with the same body); `app`,
 * `owner` and `dir` let a second `serve` recognise its own server whatever the status.
 */
export interface Health {
  /** True only when the heartbeat is running. */
  ok: boolean;
  app: 'tasks';
  owner: string;
  dir: string;
  /** The server's pid. */
  pid: number;
  url: string;
  state: HeartbeatState;
  heartbeatPid: number | null;
  heartbeat: HeartbeatHealth & { readonly running: boolean };
  /**
   * The pages: `current` (the last build has every change the server knows of), `stale` (a rebuild
   * is under way or waiting; the previous build is served meanwhile) or `building` (no pages to
   * show: none on disk, or this server's first build wrote them but has not yet reported the model
   * they show; pages answer 503 with a page that reloads itself when they are shown).
   */
  build: BuildState;
  /**
   * The task routes: `ready` once the first build has reported the whole task model, `building`
   * before (they answer 503 with Retry-After meanwhile). It never changes the status code, which
   * is the heartbeat's.
   */
  api: 'ready' | 'building';
  /** A shared registry only: where, the queue, and since when the heartbeat cannot reach it (then ok is false, 503). */
  registry?: SnapshotRegistry;
  /** Why ok is false when the heartbeat runs: the shared registry is unreachable. */
  reason?: string;
}

export type { BuildState };

/** True for addresses that never leave this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The URL of a server bound to host:port. */
export function serverUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}/`;
}

/** This owner's server from its pid file, confirmed by asking it (a read-only check, no signal). */
export async function findOwnServer(input: { readonly owner: string; readonly dir: string }, timeoutMs?: number): Promise<{ url: string; pid: number; detached: boolean } | undefined> {
  let text: string | undefined;
  try {
    text = readTextFile(runtimePaths(input.dir, input.owner).serverPid);
  } catch (err) {
    if (isNotAFile(err)) return undefined; // a folder or a FIFO in its place names no server
    throw err;
  }
  if (text === undefined) return undefined;
  const record = parsePidFile(text);
  if ('error' in record || !record.fields.url) return undefined;
  const health = await probeHealth(record.fields.url, timeoutMs);
  if (health && health.owner === input.owner && health.dir === input.dir) return { url: health.url, pid: health.pid, detached: record.fields.detached === '1' };
  return undefined;
}

/**
 * The pids of this owner's detached servers for a folder whose pid files are gone (deleted with
 * it): processes of this user that carry the serve marker words and were started detached, each
 * proven by asking what it listens on for /api/health, which must name that very pid, owner and folder.
 */
export async function detachedServersWithoutPidFile(owner: string, dir: string, self: { readonly pid: number; readonly ppid: number }): Promise<number[]> {
  const words = markerArgs({ kind: 'serve', owner, dir });
  const proven: number[] = [];
  for (const pid of allPids()) {
    if (pid === self.pid || pid === self.ppid || !ownedByUs(pid) || !hasArgs(pid, words) || !startedDetached(pid)) continue;
    for (const { host, port } of listeningPorts(pid)) {
      const health = await probeHealth(serverUrl(host, port));
      if (health?.pid === pid && health.owner === owner && health.dir === dir) {
        proven.push(pid);
        break;
      }
    }
  }
  return proven;
}

/** True when the process was started by `serve --detach` (a foreground serve is its terminal's to stop). */
function startedDetached(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes('TASKS_SERVER_DETACHED=1');
  } catch {
    return false;
  }
}

/** GET <url>api/health with a short timeout, whatever its status (503 too); undefined when it is not a tasks server. */
export async function probeHealth(url: string, timeoutMs = 1500): Promise<Health | undefined> {
  // Loaded on the first probe: `status` with no server pid file never needs the HTTP client.
  const { default: http } = await import('node:http');
  return new Promise((resolve) => {
    const req = http.get(new URL('api/health', url), { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        try {
          const doc = JSON.parse(body) as Partial<Health>;
          resolve(doc.app === 'tasks' && typeof doc.owner === 'string' ? (doc as Health) : undefined);
        } catch (err) {
          if (err instanceof SyntaxError) return resolve(undefined);
          throw err;
        }
      });
      // A peer that stalls or hangs up mid-body is not a tasks server (resolve is idempotent).
      res.on('error', () => resolve(undefined));
      res.on('close', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.on('close', () => setImmediate(() => resolve(undefined)));
  });
}
