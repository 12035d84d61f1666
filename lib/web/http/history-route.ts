// `/api/history?since=`: the owner's recorded runs and ticks ({"runs": [...], "ticks": [...]}), compressed like /api/tasks.
import type http from 'node:http';
import { escapeControls } from '../../base/controls.ts';
import { HistoryReader } from '../../manager/history-read.ts';
import { SINCE_FORMS, sinceTime } from '../../manager/history-since.ts';
import { jsonBody, sendCached, sendJson } from './api.ts';

/** The history route of one server: its reader keeps the parsed files between requests (HistoryReader). */
export function historyRoute(o: { readonly dir: string; readonly owner: string; readonly hostName?: string | undefined }): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const reader = new HistoryReader(o.dir, o.owner);
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const given = url.searchParams.get('since') ?? undefined;
    const now = new Date();
    const since = sinceTime(given, now);
    if (!since) return sendJson(res, 400, JSON.stringify({ error: `since must be ${SINCE_FORMS}, got ${escapeControls(given ?? '')}` }));
    const data = reader.read(since, now, o.hostName);
    await sendCached(req, res, jsonBody(JSON.stringify(data)));
  };
}
