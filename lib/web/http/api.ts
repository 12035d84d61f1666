// The answers of the task routes the server's thread makes itself: the 503 while the model is built, and small JSON answers.
import type http from 'node:http';
import { RETRY_AFTER_S } from './building.ts';

/**
 * The answer of a task route before the server has a whole model (its first build is under way):
 * 503 with Retry-After, never an empty list or a "no task" that is not true.
 */
export function sendBuilding(res: http.ServerResponse): void {
  res.setHeader('retry-after', String(RETRY_AFTER_S));
  sendJson(res, 503, JSON.stringify({ error: `the task model is being built; retry in ${RETRY_AFTER_S} s`, building: true, retryAfter: RETRY_AFTER_S }));
}

/** Sends a small JSON answer that is never cached (errors, health, one task). */
export function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body + '\n');
}
