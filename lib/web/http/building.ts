// The page served while no build exists yet (it says so and reloads itself when the event stream reports the build), how long a client waits, and a task page still to render.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { BuildThread } from '../site/build-thread.ts';
import { staticPath } from './statics.ts';

/** Seconds a client is told to wait (Retry-After) while the pages or the task model are being built: a first build takes about 1 s per 700 tasks. */
export const RETRY_AFTER_S = 1;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * A minimal page for any page URL before the first build is on disk (a first start, or the build
 * folder deleted under the server). Its script is the dashboard's own app.js (served from memory
 * until the build writes it): it sees `main[data-building]`, listens to /api/events and reloads
 * when the stream names a version of the page. Absolute links: it may stand in for a task page.
 */
export function buildingPage(dir: string, failure?: string): string {
  const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
  const folder = escape(dir);
  // A build that failed (a link in the build folder) says why: it is retried at each change and at each request of a page.
  const why = failure === undefined ? '' : `\n<p>The last build failed: <code>${escape(failure)}</code></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Tasks: building the dashboard</title>
<link rel="icon" href="/favicon.svg"><link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script></head>
<body>
<header><h1>Tasks</h1><p id="live" role="status"></p></header>
<main data-building><p>The dashboard for <code>${folder}</code> is being built. This page reloads itself when it is ready.</p>${why}</main>
</body></html>
`;
}

/** The 503 while the pages are being built: the page above for a page's URL, a line of text for anything else; with Retry-After. */
export function sendBuilding(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, dir: string, failure: string | undefined): void {
  const page = pathname === '/' || pathname.endsWith('/') || /\.html(\.br|\.gz)?$/.test(pathname);
  res.writeHead(503, { 'content-type': `text/${page ? 'html' : 'plain'}; charset=utf-8`, 'cache-control': 'no-store', 'retry-after': String(RETRY_AFTER_S) });
  if (req.method === 'HEAD') res.end();
  else res.end(page ? buildingPage(dir, failure) : `the dashboard is being built; retry in ${RETRY_AFTER_S} s\n`);
}

/**
 * How long a request for a task page the build thread has still to render waits for it: the thread
 * renders it before anything else, but only once the build under way is on disk (seconds at 50,000 tasks).
 */
export const PAGE_WAIT_MS = 30_000;

/**
 * The task page (`tasks/<page>.html`) or search shard (`data/search-<k>.json`) a path names when it
 * may be one a build left to render: it is not on disk. While the build is current, only a task's
 * page can be (the build thread says whether it is: BuildThread.ask); anything else not there does
 * not exist (404).
 */
export function pageToCome(pathname: string, thread: Pick<BuildThread, 'serves'>): string | undefined {
  const rel = staticPath(pathname);
  if (rel === undefined || !/^(tasks\/[^/]+\.html|data\/search-\d+\.json)$/.test(rel) || thread.serves(rel)) return undefined;
  return rel;
}

/**
 * The build folder's file a path names when the manifest lists it but the disk does not have it
 * (the folder changed under us: deleted by hand, or half of it while a build ran); undefined when
 * it is there, or not one of the build's. Never a 404 for such a file: the build writes it again.
 */
export function lostFile(pathname: string, siteDir: string, thread: Pick<BuildThread, 'serves'>): string | undefined {
  const rel = staticPath(pathname);
  if (rel === undefined || !thread.serves(rel)) return undefined;
  return fs.existsSync(path.join(siteDir, rel)) ? undefined : rel;
}

/**
 * Waits for a build (a task page rendered, or lost files written again), up to PAGE_WAIT_MS, then
 * calls `then`: the caller serves the file if it is on disk by then, else answers "being built" with
 * Retry-After (the page reloads itself once its page has a version), never a 404 for a task that exists.
 */
export function awaitBuild(build: Promise<unknown>, then: () => void): void {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, PAGE_WAIT_MS); });
  void Promise.race([build, late]).then(() => {
    clearTimeout(timer);
    then();
  });
}

