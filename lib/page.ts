/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export interface StatusPageInput {
  readonly owner: string;
  readonly dir: string;
  readonly heartbeat: { running: boolean; pid: number | undefined };
  readonly snapshot: Record<string, unknown> | undefined;
  readonly now: Date;
}

/** The index page until the dashboard arrives: heartbeat state and task count, fresh per request. */
export function renderStatusPage(p: StatusPageInput): string {
  const snap = p.snapshot;
  const tickAt = typeof snap?.tickAt === 'string' ? new Date(snap.tickAt) : undefined;
  const age = tickAt ? `${Math.max(0, Math.round((p.now.getTime() - tickAt.getTime()) / 1000))} s ago` : 'never';
  const hb = p.heartbeat.running ? `running (pid ${p.heartbeat.pid})` : 'not running — start it with: just tasks ensure owner=' + p.owner;
  const count = typeof snap?.taskCount === 'number' ? String(snap.taskCount) : '—';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tasks</title><link rel="stylesheet" href="/style.css"></head>
<body><main>
<h1>Tasks</h1>
<dl>
<dt>Owner</dt><dd id="owner">${escapeHtml(p.owner)}</dd>
<dt>Heartbeat</dt><dd id="heartbeat" class="${p.heartbeat.running ? 'ok' : 'bad'}">${escapeHtml(hb)}</dd>
<dt>Last tick</dt><dd id="last-tick">${escapeHtml(String(snap?.tick ?? '—'))} (${escapeHtml(age)})</dd>
<dt>Tasks</dt><dd id="task-count">${escapeHtml(count)}</dd>
<dt>Folder</dt><dd>${escapeHtml(p.dir)}</dd>
</dl>
</main></body></html>
`;
}

/** The stylesheet: readable on a phone, dark mode following the system. */
export const STYLE_CSS = `:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--ok:#1a7f37;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--ok:#3fb950;--bad:#f85149}}
body{font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:60rem;margin:0 auto;padding:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}.ok{color:var(--ok)}.bad{color:var(--bad)}
`;
