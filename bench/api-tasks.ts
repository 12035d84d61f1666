// /api/tasks benchmark (issue 19): the bytes of the whole list at 1,000 and 10,000 tasks as sent
// without compression, with gzip and with br; the time of the first compressed answer of a
// version (it compresses) and of the next (from the cache); and a script's walk of the list in
// pages of 500, with and without ?fields=id,status,title.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { generateTasks } from './generate.ts';
import { median, serveWithoutHeartbeat } from './lib-measure.ts';

/** One GET: status, the body's bytes on the wire, its encoding and the wall time in ms. */
function fetchRaw(url: string, encoding: string): Promise<{ status: number; bytes: number; body: Buffer; encoding: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http.get(url, { headers: encoding ? { 'accept-encoding': encoding } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, bytes: body.length, body, encoding: String(res.headers['content-encoding'] ?? 'none'), ms: performance.now() - t0 });
      });
    }).on('error', reject);
  });
}

const kb = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`);

/** Pages of `limit` from the first to the last; the number of pages, their bytes and the wall time. */
async function walk(base: string, limit: number, extra: string): Promise<{ pages: number; tasks: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  let after: string | null = null;
  let pages = 0;
  let tasks = 0;
  let bytes = 0;
  do {
    const r = await fetchRaw(`${base}/api/tasks?limit=${limit}${extra}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, '');
    if (r.status !== 200) throw new Error(`page ${pages + 1}: ${r.status} ${r.body.toString()}`);
    const doc = JSON.parse(r.body.toString()) as { tasks: unknown[]; next: string | null };
    pages++;
    tasks += doc.tasks.length;
    bytes += r.bytes;
    after = doc.next;
  } while (after !== null);
  return { pages, tasks, bytes, ms: performance.now() - t0 };
}

async function measure(n: number): Promise<string[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-api-'));
  const dir = path.join(tmp, 'tasks');
  const owner = `bench-api-${process.pid}`;
  let child: ChildProcess | undefined;
  try {
    generateTasks(dir, n);
    const port = await getPort({ host: '127.0.0.1' });
    child = await serveWithoutHeartbeat(dir, owner, port);
    const base = `http://127.0.0.1:${port}`;
    const rows: string[] = [];
    const plain = await fetchRaw(`${base}/api/tasks`, '');
    for (const encoding of ['', 'gzip', 'br']) {
      const first = await fetchRaw(`${base}/api/tasks`, encoding);
      const again: number[] = [];
      for (let i = 0; i < 5; i++) again.push((await fetchRaw(`${base}/api/tasks`, encoding)).ms);
      rows.push(`${String(n).padStart(6)} tasks, Accept-Encoding ${(encoding || '(none)').padEnd(6)}: ${kb(first.bytes).padStart(9)} (${first.encoding}; ${(plain.bytes / first.bytes).toFixed(1)}x smaller)` +
        `   first answer ${first.ms.toFixed(0)} ms, cached ${median(again).toFixed(1)} ms`);
    }
    for (const extra of ['', '&fields=id,status,title']) {
      const w = await walk(base, 500, extra);
      if (w.tasks !== n) throw new Error(`paging saw ${w.tasks} tasks of ${n}`);
      rows.push(`${String(n).padStart(6)} tasks, ?limit=500${extra}: ${w.pages} pages, ${kb(w.bytes)} uncompressed, ${w.ms.toFixed(0)} ms in all`);
    }
    return rows;
  } finally {
    if (child?.pid) process.kill(-child.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(`/api/tasks benchmark, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg()[0]?.toFixed(2)}`);
for (const n of [1000, 10000]) for (const row of await measure(n)) console.log(row);
