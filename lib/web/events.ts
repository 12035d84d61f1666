// Server-sent events to the open dashboards: `change` after every rebuild, `log` with new run-log lines for those who asked.
import type http from 'node:http';

/** A client that has this much unsent output gets no more log lines until it catches up (it refetches the gap). */
const LOG_BACKLOG_MAX = 1024 * 1024;

/** What one client listens to besides `change`: the run logs of these task ids, or of every task (`*`). */
interface Client { readonly res: http.ServerResponse; readonly logs: ReadonlySet<string> }

/** The new bytes of a run log as one `log` event (docs/api.md). */
export interface LogEvent {
  readonly id: string;
  /** The log file's identity ("<dev>:<ino>"); a rotated log starts a new one at from 0. */
  readonly log: string;
  /** Byte offsets in that file: the lines cover [from, to). */
  readonly from: number;
  readonly to: number;
  readonly lines: string[];
  /** The last line has no newline yet: the next event continues it. */
  readonly partial: boolean;
}

/** Every open event stream; `change` goes to all, `log` only to those that named the task in `?log=`. */
export class EventHub {
  private readonly clients = new Set<Client>();

  /** Takes over a response as an event stream; `?log=<id>` (repeatable, or `*`) subscribes to run-log lines. */
  attach(req: http.IncomingMessage, res: http.ServerResponse, version: number): void {
    const logs = new Set(new URL(req.url ?? '/', 'http://x').searchParams.getAll('log').filter((id) => id !== ''));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: hello\ndata: {"version":${version}}\n\n`);
    const client = { res, logs };
    this.clients.add(client);
    req.on('close', () => this.clients.delete(client));
  }

  /** Tells every client the site changed. */
  send(version: number): void {
    for (const c of this.clients) c.res.write(`event: change\ndata: {"version":${version}}\n\n`);
  }

  /** True when some client listens to this task's run log. */
  wantsLog(id: string): boolean {
    for (const c of this.clients) if (c.logs.has(id) || c.logs.has('*')) return true;
    return false;
  }

  /** Sends new run-log lines to the clients that listen to that task; a client far behind skips them. */
  sendLog(event: LogEvent): void {
    let frame: string | undefined;
    for (const c of this.clients) {
      if (!c.logs.has(event.id) && !c.logs.has('*')) continue;
      if (c.res.writableLength > LOG_BACKLOG_MAX) continue;
      frame ??= `event: log\ndata: ${JSON.stringify(event)}\n\n`;
      c.res.write(frame);
    }
  }

  /** Ends every stream (on shutdown). */
  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
