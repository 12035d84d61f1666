// The run-log routes: /api/tasks/<id>/log (the last lines as JSON) and /api/tasks/<id>/log.txt (the whole kept log).
import fs from 'node:fs';
import type http from 'node:http';
import { readJsonFile } from '../../base/jsonfile.ts';
import type { RuntimePaths } from '../../base/paths.ts';
import type { Registry } from '../../manager/registry.ts';
import { sendJson } from './api.ts';
import { TAIL_DEFAULT, TAIL_MAX, logSources, openLog, readRunLogTail, runLogOf, runsListing } from '../render/run-log.ts';

/**
 * Answers a run-log request for a task the model knows. The file is the one its claim (or the
 * newest released claim, or `runs/<slug>.log`) names, inside the runs folder: nothing from the
 * request but the task id is used, and symlinks are not followed.
 */
export function answerRunLog(req: http.IncomingMessage, res: http.ServerResponse, task: { id: string; slug: string }, kind: 'log' | 'log.txt', query: URLSearchParams, paths: RuntimePaths): void {
  let tail = TAIL_DEFAULT;
  const asked = query.get('tail');
  if (kind === 'log' && asked !== null) {
    if (!/^[0-9]{1,9}$/.test(asked)) return sendJson(res, 400, JSON.stringify({ error: `tail must be a whole number of lines from 0 to ${TAIL_MAX}, got ${asked}` }));
    tail = Math.min(Number(asked), TAIL_MAX);
  }
  const file = runLogOf(task, logSources(readJsonFile<Registry>(paths.registry)), paths.runs, runsListing(paths.runs));
  const none = (): void => sendJson(res, 404, JSON.stringify({ error: `no run log for task ${task.id}: it has not been dispatched` }));
  if (file === undefined) return none();
  if (kind === 'log') {
    const t = readRunLogTail(file, tail);
    if (t === undefined) return none();
    return sendJson(res, 200, JSON.stringify({ id: task.id, path: t.path, lines: t.lines, truncated: t.truncated, log: t.log, end: t.end, partial: t.partial }));
  }
  const parts = [openLog(`${file}.1`), openLog(file)].filter((p) => p !== undefined);
  if (parts.length === 0) return none();
  const length = parts.reduce((n, p) => n + p.st.size, 0);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(length) });
  if (req.method === 'HEAD') {
    for (const p of parts) fs.closeSync(p.fd);
    res.end();
    return;
  }
  // The rotated copy, then the current file, each up to the size it had when opened: the length
  // promised above holds even while the run writes on.
  let reading: fs.ReadStream | undefined;
  const next = (): void => {
    const p = parts.shift();
    if (p === undefined) return void res.end();
    if (p.st.size === 0) {
      fs.closeSync(p.fd);
      return next();
    }
    const stream = fs.createReadStream('', { fd: p.fd, start: 0, end: p.st.size - 1, autoClose: true });
    reading = stream;
    stream.on('error', () => res.destroy());
    stream.on('end', next);
    stream.pipe(res, { end: false });
  };
  // A client that hangs up early: the open stream and the files not yet sent are closed.
  res.on('close', () => {
    reading?.destroy();
    for (const rest of parts.splice(0)) fs.closeSync(rest.fd);
  });
  next();
}
