// The dashboard's write routes: the board moves a card by setting its task's status through the edit core, for the dashboard's own page only.
import crypto from 'node:crypto';
import type http from 'node:http';
import { TasksError } from '../../base/errors.ts';
import { escapeControls } from '../../base/controls.ts';
import { EditConflict, EditRefused, editTask, readForEdit } from '../../tasks/edit.ts';
import { detectFormat } from '../../tasks/format.ts';
import { normaliseStatus } from '../../tasks/mapping.ts';
import { sendJson } from './api.ts';

/** A status change is a few dozen bytes; anything past this is not the board's. */
const BODY_MAX = 4096;

export interface WriteInput {
  readonly dir: string;
  /** The server's per-process secret: held in memory only, handed out by GET /api/token to same-origin pages. */
  readonly token: string;
  /** True for a Host header naming this server (its bound address, localhost, 127.0.0.1, [::1] on its port). */
  readonly ownHost: (host: string) => boolean;
  readonly log: (line: string) => void;
}

/** A write route's handler: the task id as the path has it (percent-encoded) and what is asked of it; neither for /api/token. */
export type WriteHandler = (req: http.IncomingMessage, res: http.ServerResponse, id: string | undefined, what: string | undefined) => Promise<void>;

/**
 * The write routes of one server, with its token: random, made once per server process and never
 * written to disk, so no page file, and no `build out=` site, can carry it.
 */
export function createWrites(input: Omit<WriteInput, 'token'>): WriteHandler {
  const all: WriteInput = { ...input, token: crypto.randomBytes(24).toString('base64url') };
  return async (req, res, raw, what) => {
    if (raw === undefined) return answerToken(req, res, all);
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch (err) {
      if (!(err instanceof URIError)) throw err;
      return sendJson(res, 400, JSON.stringify({ error: 'the task id is not valid percent-encoding' }));
    }
    return what === 'status' ? answerSetStatus(req, res, all, id) : answerVersion(res, all, id);
  };
}

/** The request's Host, lowercased, when it names this server; undefined otherwise (any bind address: DNS rebinding must not reach a write). */
function ownHostOf(req: http.IncomingMessage, input: WriteInput): string | undefined {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && input.ownHost(host) ? host : undefined;
}

/**
 * Why a request is not the dashboard's own page asking, or undefined when it is: its Host is this
 * server, its Origin is this server's (or, with none, the browser says Sec-Fetch-Site: same-origin),
 * and no browser says it came from another site.
 */
function foreign(req: http.IncomingMessage, input: WriteInput): string | undefined {
  const host = ownHostOf(req, input);
  if (host === undefined) return `Host ${escapeControls(req.headers.host ?? '(none)')} is not this dashboard's address; write through the address the server printed`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site is ${escapeControls(String(site))}: only the dashboard's own page may write`;
  const origin = req.headers.origin;
  if (origin === undefined) return site === 'same-origin' ? undefined : 'no Origin and no Sec-Fetch-Site: same-origin; only the dashboard\'s own page may write';
  if (origin.toLowerCase() !== `http://${host}`) return `Origin ${escapeControls(origin)} is not this dashboard (http://${host}); only the dashboard's own page may write`;
  return undefined;
}

function refuse(res: http.ServerResponse, line: string): void {
  sendJson(res, 403, JSON.stringify({ error: line }));
}

/**
 * GET /api/token: the token the board sends with each write, to a same-origin request only. Another
 * site cannot read this answer anyway (no CORS headers); the checks make that explicit, and keep it
 * from any page not served by this server under its own name.
 */
function answerToken(req: http.IncomingMessage, res: http.ServerResponse, input: WriteInput): void {
  const why = foreign(req, input) ?? (req.headers['sec-fetch-site'] === 'same-origin' ? undefined : 'the token is given to the dashboard\'s own page only (Sec-Fetch-Site: same-origin)');
  if (why !== undefined) return refuse(res, why);
  sendJson(res, 200, JSON.stringify({ token: input.token }));
}

/** The token header equals the server's, compared in constant time. */
function tokenOk(req: http.IncomingMessage, token: string): boolean {
  const given = req.headers['x-tasks-token'];
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** Reads a body of at most BODY_MAX bytes; undefined when it is longer (the rest is not read). */
function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_MAX) {
        resolve(undefined);
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** The status change a body asks for, or the one line saying what is wrong with it. */
function parseChange(body: Buffer): { status: string; version: string } | string {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body is not JSON; send {"status": "...", "version": "..."}';
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'the body is not a JSON object; send {"status": "...", "version": "..."}';
  const { status, version } = doc as Record<string, unknown>;
  if (typeof status !== 'string' || status.trim() === '' || status.length > 200 || /[\p{Cc}]/u.test(status)) return 'status must be a status word on one line, such as "in_progress" or the folder\'s own ("In Progress")';
  if (typeof version !== 'string' || !/^[0-9a-f]{16}$/.test(version)) return 'version must be the task\'s version (16 hex digits) from GET /api/tasks/<id>/version: a write never goes in blind';
  return { status, version };
}

/**
 * GET /api/tasks/<id>/version: the task file's version now, and the status it has in those same
 * bytes. The board reads it when a card is picked up: a status other than the card's says the page
 * is behind (nothing is sent), and the write carries the version, so a change in between is a conflict.
 */
async function answerVersion(res: http.ServerResponse, input: WriteInput, id: string): Promise<void> {
  try {
    const read = await readForEdit(input.dir, id);
    sendJson(res, 200, JSON.stringify({ id: read.task.id, path: read.path, version: read.version, status: read.task.status }));
  } catch (err) {
    if (err instanceof EditRefused) return sendJson(res, 422, JSON.stringify({ error: err.message }));
    throw err;
  }
}

/**
 * POST /api/tasks/<id>/status with `{status, version}` (JSON, the token in X-Tasks-Token, from this
 * server's own page): sets the status through the edit core, in the folder's own word, only if the
 * file is still at `version`. Anything refused writes nothing.
 */
async function answerSetStatus(req: http.IncomingMessage, res: http.ServerResponse, input: WriteInput, id: string): Promise<void> {
  const why = foreign(req, input);
  if (why !== undefined) return refuse(res, why);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return refuse(res, `Content-Type ${escapeControls(type || '(none)')} is refused: send application/json (no form posts)`);
  if (!tokenOk(req, input.token)) return refuse(res, 'no valid X-Tasks-Token: the token is given to the dashboard\'s own page by GET /api/token');
  const body = await readBody(req);
  if (body === undefined) return sendJson(res, 413, JSON.stringify({ error: `the body is over ${BODY_MAX} bytes; send {"status": "...", "version": "..."}` }));
  const change = parseChange(body);
  if (typeof change === 'string') return sendJson(res, 400, JSON.stringify({ error: change }));
  try {
    const done = await editTask(input.dir, id, { status: change.status, version: change.version });
    if (done.changed.length) input.log(`board: ${escapeControls(done.id)} ${escapeControls(done.changed.join(', '))}`);
    // The status key the pages use (in_progress, todo), whichever word the request gave.
    const status = normaliseStatus(change.status, detectFormat(input.dir).statuses).status;
    sendJson(res, 200, JSON.stringify({ id: done.id, version: done.version, status, changed: done.changed }));
  } catch (err) {
    if (err instanceof EditConflict) return sendJson(res, 409, JSON.stringify({ error: err.message, current: err.current, changes: err.changes }));
    if (err instanceof EditRefused || err instanceof TasksError) return sendJson(res, 422, JSON.stringify({ error: err.message }));
    throw err;
  }
}
