// The page served while no build exists yet (it says so and reloads itself when the event stream reports the build), and how long a client waits.

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
