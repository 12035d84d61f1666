// What the notification tests share: a loopback webhook receiver (port 0) that can fail or hang, and a notify= command that appends what it got to a file.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Received {
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly status: number;
  /** When it arrived, and when its connection closed (undefined: still open), by this process's clock. */
  readonly at: number;
  closedAt: number | undefined;
}

export interface Receiver {
  /** The webhook URL (with `secret` in its path). */
  readonly url: string;
  /** Every request, in order, with the status it was answered (0: never answered). */
  readonly got: Received[];
  /** The requests answered 2xx. */
  ok(): Received[];
  close(): Promise<void>;
}

/**
 * A loopback receiver on port 0. `answer(n)` gives the status of the n-th request (0-based), or
 * 'hang' to never answer it (the socket is held until close). A 4xx/5xx answer echoes the
 * request's path in its body, as some receivers do, to prove the secret is cut from reasons.
 */
export async function receiver(secret: string, answer: (n: number) => number | 'hang' = () => 200): Promise<Receiver> {
  const got: Received[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => { data += String(c); });
    req.on('end', () => {
      const n = got.length;
      const a = answer(n);
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(data) as Record<string, unknown>; } catch { body = { unparsed: data }; }
      const rec: Received = { path: req.url ?? '', body, status: a === 'hang' ? 0 : a, at: Date.now(), closedAt: undefined };
      got.push(rec);
      res.on('close', () => { rec.closedAt = Date.now(); });
      if (a === 'hang') { held.push(res); return; }
      res.writeHead(a, { 'content-type': 'text/plain' });
      res.end(a >= 300 ? `no hook at ${req.url}\n` : 'ok\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/${secret}?token=${secret}`,
    got,
    ok: () => got.filter((g) => g.status >= 200 && g.status < 300),
    close: async () => {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The notify= command: appends its stdin (one JSON line) and then `TASKS_EVENT TASK_ID` as a JSON line of their own to file. */
export function appendCommand(file: string): string {
  const q = `'${file.replace(/'/g, `'\\''`)}'`;
  return `cat >> ${q}; node -e 'console.log(JSON.stringify({env: [process.env.TASKS_EVENT, process.env.TASK_ID]}))' >> ${q}`;
}

export interface CommandDelivery { readonly doc: Record<string, unknown>; readonly env: [string, string] }

/** What the command got, in order: each document with the environment it ran with. */
export function commandDeliveries(file: string): CommandDelivery[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  const out: CommandDelivery[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) out.push({ doc: lines[i] as Record<string, unknown>, env: (lines[i + 1] as { env: [string, string] }).env });
  return out;
}

/** A task file of ours. */
export function writeTask(dir: string, id: string, title: string, status = 'ready'): void {
  fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: ${JSON.stringify(title)}\nstatus: ${status}\npriority: p1\n---\nBody.\n`);
}
