// `/api/history?since=`: the owner's recorded runs and ticks ({"runs": [...], "ticks": [...]}), compressed like /api/tasks.
import type http from 'node:http';
import { escapeControls } from '../../base/controls.ts';
import { HistoryReader } from '../../manager/history-read.ts';
import { SINCE_FORMS, sinceTime } from '../../manager/history-since.ts';
import { sendJson } from './api.ts';
import { type JsonBody, jsonBody } from '../site/json-doc.ts';
import { sendCached } from './json-body.ts';

/** Answers kept per file state: one per since= in use (the charts ask for 24 h, 7 d and 30 d). */
const KEPT = 8;

/**
 * The history route of one server. An answer is kept (with its compressed forms) until a file it
 * comes from changes, once a tick: since= as a duration is rounded down to the minute, so the
 * requests of one tick get the same answer, compressed once.
 */
export function historyRoute(o: { readonly dir: string; readonly owner: string; readonly hostName?: string | undefined }): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const reader = new HistoryReader(o.dir, o.owner);
  const kept = new Map<string, JsonBody>();
  let keptSig = '';
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const given = url.searchParams.get('since') ?? undefined;
    const now = new Date();
    const exact = sinceTime(given, now);
    if (!exact) return sendJson(res, 400, JSON.stringify({ error: `since must be ${SINCE_FORMS}, got ${escapeControls(given ?? '')}` }));
    const since = isDuration(given) ? new Date(Math.floor(exact.getTime() / 60_000) * 60_000) : exact;
    const sig = reader.signature();
    // A file changed: every kept answer is out of date.
    if (sig !== keptSig) kept.clear();
    keptSig = sig;
    const key = String(since.getTime());
    let doc = kept.get(key);
    if (doc === undefined) {
      doc = jsonBody(JSON.stringify(reader.read(since, now, o.hostName)));
      if (kept.size >= KEPT) kept.delete(kept.keys().next().value as string);
      kept.set(key, doc);
    }
    await sendCached(req, res, doc);
  };
}

/** True when since= is a duration back from now (the default too), not a fixed time. */
function isDuration(given: string | undefined): boolean {
  return given === undefined || !given.includes('-');
}
