// Server-sent events to the open dashboards: `change` after every rebuild, `log` with new run-log lines for those who asked.
import type http from 'node:http';

/** A client that has this much unsent output gets no more log lines until it catches up (it refetches the gap). */
const LOG_BACKLOG_MAX = 1024 * 1024;

/**
 * What one client listens to besides `change`: the run logs of these task ids, or of every task
 * (`*`); and the page it shows (`?page=<path>`), whose version its hello and changes carry.
 */
interface Client { readonly res: http.ServerResponse; readonly logs: ReadonlySet<string>; readonly page: string | undefined }

/** The data of a `hello` or `change` event for a client showing `page` (undefined: it named none). */
export type EventData = (page: string | undefined) => Readonly<Record<string, unknown>>;

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

  /**
   * Takes over a response as an event stream; `?log=<id>` (repeatable, or `*`) subscribes to
   * run-log lines, `?page=<path>` names the page the client shows.
   */
  attach(req: http.IncomingMessage, res: http.ServerResponse, data: EventData): void {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const logs = new Set(query.getAll('log').filter((id) => id !== ''));
    const page = query.get('page') ?? undefined;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify(data(page))}\n\n`);
    const client = { res, logs, page };
    this.clients.add(client);
    req.on('close', () => this.clients.delete(client));
  }

  /** Tells every client the site changed, each with the data for its page (worked out once per page). */
  send(data: EventData): void {
    const frames = new Map<string | undefined, string>();
    for (const c of this.clients) {
      let frame = frames.get(c.page);
      if (frame === undefined) {
        frame = `event: change\ndata: ${JSON.stringify(data(c.page))}\n\n`;
        frames.set(c.page, frame);
      }
      c.res.write(frame);
    }
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
