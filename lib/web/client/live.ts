// Live updates: server-sent events on /api/events make the page refetch itself and swap in the regions that changed.
import { refreshAges } from './ages.ts';
import { HTTP, byId } from './dom.ts';
import { fetchTail, keepLog, onLogEvent, pageTaskId } from './runlog.ts';
import { FILTERS, apply, takeRows } from './view.ts';

/** The index's regions that the server re-renders; a task page is swapped as one `main`. */
const INDEX_REGIONS = ['#health', '#counts', '#escalations', '#ready', '#claims', '#errors', '#tasks tbody', ...FILTERS.map((f) => `#f-${f}`)];
/** Each region's HTML as last served, so an unchanged region is left alone (with its scroll, focus and hidden rows). */
const served = new Map<string, string>();
let busy = false;
let again = false;

function say(message: string): void {
  const live = byId('live', HTMLElement);
  if (live !== null) live.textContent = message;
}

function regions(): string[] {
  return document.querySelector('main[data-task-id]') === null ? INDEX_REGIONS : ['main'];
}

/** Notes each region of a served document; called on the page as loaded, before the view changes it. */
export function remember(doc: Document): void {
  for (const s of regions()) served.set(s, doc.querySelector(s)?.outerHTML ?? '');
}

/** Replaces the regions whose served HTML changed, keeping scroll position, focus and the view's filters. */
function swap(doc: Document): void {
  const x = scrollX;
  const y = scrollY;
  const active = document.activeElement;
  const activeId = active?.id ?? '';
  let rowsChanged = false;
  for (const s of regions()) {
    const mine = document.querySelector(s);
    const theirs = doc.querySelector(s);
    if (mine === null || theirs === null || served.get(s) === theirs.outerHTML) continue;
    served.set(s, theirs.outerHTML);
    // A select keeps its element (and its listener); only its options change.
    if (s.startsWith('#f-')) {
      mine.innerHTML = theirs.innerHTML;
      continue;
    }
    const log = byId('runlog-lines', HTMLPreElement);
    mine.replaceWith(document.importNode(theirs, true));
    if (s === 'main') keepLog(log);
    if (s === '#tasks tbody') rowsChanged = true;
  }
  if (doc.title) document.title = doc.title;
  if (rowsChanged) takeRows();
  apply();
  refreshAges();
  scrollTo(x, y);
  if (active !== null && !document.contains(active) && activeId) byId(activeId, HTMLElement)?.focus();
}

/** Refetches this page; events that arrive meanwhile cause one more refetch, not one each. */
function refresh(): void {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  fetch(location.href, { cache: 'no-store' })
    .then((r) => {
      if (r.status === 404) {
        say('this page no longer exists');
        return null;
      }
      if (!r.ok) throw new Error(String(r.status));
      return r.text();
    })
    .then((html) => {
      if (html === null) return;
      swap(new DOMParser().parseFromString(html, 'text/html'));
      say('live');
    })
    .catch(() => say('update failed; waiting for the next change'))
    .finally(() => {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    });
}

/**
 * Listens to the server's events (over http only: no polling, and nothing to listen to under
 * file://). A task page also asks for its run log's new lines (`?log=<id>`).
 */
export function startLive(): void {
  if (!HTTP || typeof EventSource === 'undefined') return;
  const id = pageTaskId();
  const events = new EventSource(id === null ? '/api/events' : `/api/events?log=${encodeURIComponent(id)}`);
  events.addEventListener('change', refresh);
  // hello opens every (re)connection: a change (or log lines) may have landed between this page's load and now.
  events.addEventListener('hello', () => {
    refresh();
    if (id !== null) fetchTail();
  });
  events.addEventListener('log', (e) => onLogEvent((e as MessageEvent<string>).data));
  events.addEventListener('open', () => say('live'));
  events.addEventListener('error', () => say('reconnecting…'));
}
